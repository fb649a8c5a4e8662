import CKernelABI
import Foundation
import Glibc
import KernelABI

/// How a feature's presence is measured: one of a few generic kinds, declared with its data in
/// `Fixtures/features.json` (`{"kind": "file", "path": "/proc/self/ns/pid_for_children"}`).
///
/// A probe measures the environment by other means than the behaviour its cases test, and never
/// creates a process: a clone3 probe passes arguments every kernel that reads them rejects.
public struct FeatureProbe: Sendable {
  /// What the probe does.
  public enum Kind: Sendable {
    /// Present when the file exists.
    case file(path: String)
    /// `ioctl(open(path), request, 0)`, judged by its answer.
    case ioctl(path: String, request: IoctlRequest)
    /// `clone3(args, size)` with arguments that must be rejected, judged by its errno.
    case clone3(CloneArgsSpec)
    /// Present when the file is another inode inside a fresh PID namespace than in the suite's,
    /// while the suite holds its own open (a sysctl that each PID namespace has for itself).
    case filePerPidNamespace(path: String)
    /// A kind a C file registers (`KABI_PROBE`, as `pidfd.c` does `pidfd-handle`): its call,
    /// with the request when the kind takes one, judged by its answer.
    case registered(RegisteredProbe, request: IoctlRequest?)
  }

  public var kind: Kind
  /// The answer that means present (`ioctl`, `clone3`); without it, any answer but `absent`.
  public var present: ProbeAnswer?
  /// The errnos that mean the kernel lacks the feature.
  public var absent: [Errno] = []
  /// A file whose absence means the probe cannot run here, and what that absence means.
  public var premise: Premise?

  /// A path the probe needs, such as `/proc/self/ns/pid` for a file beside it.
  public struct Premise: Codable, Sendable {
    public var path: String
    /// The evidence when it is missing: "/proc is not mounted".
    public var missing: String
  }

  /// What the probe found, with the errno of a syscall probe that failed (`refusedSyscalls`).
  public struct Outcome: Sendable, Equatable {
    public var state: FeatureState
    public var answer: Errno?
  }

  /// Runs the probe.
  public func run() -> Outcome {
    var outcome = measure()
    if outcome.state != .present, let premise, access(premise.path, F_OK) != 0 {
      outcome.state = .blocked(premise.missing)
    }
    return outcome
  }

  private func measure() -> Outcome {
    switch kind {
    case .file(let path):
      if access(path, F_OK) == 0 { return Outcome(state: .present) }
      return Outcome(state: .absent("\(path): \(Errno(rawValue: errno).name)"))
    case .ioctl(let path, let request):
      let fd = open(path, O_RDONLY | O_CLOEXEC)
      guard fd >= 0 else {
        return Outcome(state: .blocked("cannot open \(path): \(Errno(rawValue: errno))"))
      }
      defer { close(fd) }
      let result = kabi_ioctl(fd, request.value, 0)
      if result >= 0, request.returnsFD { close(Int32(result)) }
      return judge(result, call: "ioctl(\(path), 0x\(String(request.value, radix: 16)))")
    case .clone3(let arguments):
      let built: BuiltCloneArgs
      do {
        built = try arguments.build()
      } catch {
        return Outcome(state: .blocked("the probe's clone_args cannot be built: \(error)"))
      }
      // -errno, as the arguments are rejected.
      let result = withExtendedLifetime(built) {
        kabi_clone3_probe(UnsafeMutableRawPointer(bitPattern: Int(built.address)), built.size)
      }
      return judge(
        result, call: "clone3(\(arguments.probeSummary))",
        succeeded: "created a process instead of failing")
    case .filePerPidNamespace(let path):
      return Outcome(state: Self.differsPerPidNamespace(path))
    case .registered(let probe, let request):
      var needed: UnsafePointer<CChar>?
      let result = probe.entry.run(request?.value ?? 0, &needed)
      if let needed {
        // A call the probe needs first failed: a kernel without it lacks the feature.
        let error = Errno(rawValue: Int32(-result))
        let evidence = "\(String(cString: needed)) answered \(error.name)"
        let lacking = error == .ENOSYS && TestEnvironment.seccompMode == 0
        return Outcome(state: lacking ? .absent(evidence) : .blocked(evidence), answer: error)
      }
      if result >= 0, request?.returnsFD == true { close(Int32(result)) }
      return judge(
        result, call: String(format: String(cString: probe.entry.call), request?.value ?? 0),
        succeeded: probe.entry.succeeded.map { String(cString: $0) })
    }
  }

  /// Judges a syscall's answer (the result, or -errno): `present`, else absent with the answer
  /// as evidence (a success "returned" and the result unless `succeeded` says otherwise);
  /// ENOSYS or EPERM under a seccomp filter is blocked, not absent.
  func judge(
    _ result: Int, call: String, succeeded: String? = nil,
    seccompMode: Int? = TestEnvironment.seccompMode
  ) -> Outcome {
    guard result < 0 else {
      let present = present.map { $0 == .value(result) } ?? true
      return Outcome(
        state: present ? .present : .absent("\(call) \(succeeded ?? "returned \(result)")"))
    }
    let error = Errno(rawValue: Int32(-result))
    if present == .failure(error) || (present == nil && !absent.contains(error)) {
      return Outcome(state: .present, answer: error)
    }
    if error == .ENOSYS || error == .EPERM, let seccompMode, seccompMode != 0 {
      let evidence = "\(call) answered \(error.name) under seccomp mode \(seccompMode)"
      return Outcome(state: .blocked(evidence), answer: error)
    }
    var evidence = "\(call) answered \(error.name)"
    if let present, !absent.isEmpty, !absent.contains(error) {
      evidence +=
        " (\(present) means present, \(absent.map(\.name).joined(separator: " or ")) absent)"
    }
    return Outcome(state: .absent(evidence), answer: error)
  }

  /// Whether `path` is another inode inside a sandbox's PID namespace than here. Nothing is
  /// written: as real root a write to a sysctl that is not per namespace would reach the host.
  private static func differsPerPidNamespace(_ path: String) -> FeatureState {
    let name = (path as NSString).lastPathComponent
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return .blocked("cannot open \(path): \(Errno(rawValue: errno))") }
    defer { close(fd) }
    var outside = stat()
    guard fstat(fd, &outside) == 0 else {
      return .blocked("fstat \(name): \(Errno(rawValue: errno))")
    }
    let probe = ProgramCall(steps: [.init("inode", args: ["path": .text(path)])])
    let run: SandboxRun
    do {
      run = try probe.run()
    } catch {
      return .blocked("the probe's sandbox could not start: \(error)")
    }
    guard let report = run.reports(.call).first else {
      return .blocked("the probe's sandbox did not report (\(run.exitDescription))")
    }
    switch report.result {
    case .failure(let error):
      return .blocked("opening \(name) inside a sandbox failed: \(error)")
    case .success(let inode):
      if UInt64(inode) != UInt64(outside.st_ino) { return .present }
      return .absent("\(path) is the same inode (\(inode)) in a child PID namespace")
    }
  }
}

/// A probe kind a C file registers (`KABI_PROBE`): its entry in the `kabi_probes` section,
/// static strings and a function, never written (so `@unchecked Sendable`).
public struct RegisteredProbe: @unchecked Sendable {
  let entry: kabi_probe
}

/// A syscall's answer in a probe: an errno (`"EINVAL"`) or a value (`"CLONE_NEWPID"`, `0`).
public enum ProbeAnswer: Sendable, Equatable, CustomStringConvertible {
  case failure(Errno)
  case value(Int)

  /// `"EINVAL"`, a `CLONE_*` name, or a decimal number.
  init(_ spelled: String) throws {
    if let error = Errno(name: spelled) {
      self = .failure(error)
    } else if let flag = CloneFlags(name: spelled) {
      self = .value(Int(flag.rawValue))
    } else if let value = Int(spelled) {
      self = .value(value)
    } else {
      throw FeatureProbe.Invalid(
        description: "unknown answer \"\(spelled)\": an errno name, a CLONE_* name or a number")
    }
  }

  public var description: String {
    switch self {
    case .failure(let error): error.name
    case .value(let value): "\(value)"
    }
  }
}

/// An ioctl request: a name this suite defines (`NS_GET_PARENT`) or a number (`"0xb7ff"`).
public struct IoctlRequest: Sendable {
  public var value: UInt
  /// Whether a success is a new file descriptor, which the probe closes.
  public var returnsFD: Bool

  /// The requests known by name; the values come from the C target.
  static let named: [String: IoctlRequest] = [
    "NS_GET_USERNS": .init(value: UInt(KABI_NS_GET_USERNS), returnsFD: true),
    "NS_GET_PARENT": .init(value: UInt(KABI_NS_GET_PARENT), returnsFD: true),
    "NS_GET_NSTYPE": .init(value: UInt(KABI_NS_GET_NSTYPE), returnsFD: false),
    // Writes a uid_t at its argument, but only for a user namespace: probe it elsewhere.
    "NS_GET_OWNER_UID": .init(value: UInt(KABI_NS_GET_OWNER_UID), returnsFD: false),
  ]
}

extension CloneArgsSpec {
  /// How evidence names a probe's call: the fields set besides the rejected exit_signal, and a
  /// size other than VER0's ("set_tid, size 80"); just the exit_signal when nothing else is set.
  var probeSummary: String {
    var parts: [String] = (flags ?? []).isEmpty ? [] : ["\(flags ?? [])"]
    if !(setTid ?? []).isEmpty { parts.append("set_tid") }
    if let setTidSize, setTidSize != 0 { parts.append("set_tid_size \(setTidSize)") }
    if (cgroup ?? 0) != 0 { parts.append("cgroup") }
    if parts.isEmpty { parts.append("exit_signal 0x\(String(exitSignal ?? 0, radix: 16))") }
    if resolvedSize != Int(KABI_CLONE_ARGS_SIZE_VER0) { parts.append("size \(resolvedSize)") }
    return parts.joined(separator: ", ")
  }

  /// Why a probe could not use these arguments, or nil: a probe must never create a process
  /// and stays within the struct this suite defines.
  var probeProblem: String? {
    let size = resolvedSize
    let sizes = Int(KABI_CLONE_ARGS_SIZE_VER0)...Int(KABI_CLONE_ARGS_SIZE_VER2)
    guard sizes.contains(size), size % 8 == 0 else {
      return "args: size \(size) is not 64 to 88 in steps of 8 (the struct this suite defines)"
    }
    if let setTidSize, setTidSize > (setTid ?? []).count {
      return "args: set_tid_size \(setTidSize) is longer than set_tid"
    }
    // copy_clone_args_from_user() rejects an exit_signal outside CSIGNAL once it has read
    // the struct, so a kernel that knows every field answers EINVAL and makes no process.
    if let exitSignal, exitSignal > 0xff { return nil }
    // That comes before the flags are looked at, so a probe of a flag needs another way to
    // fail: CLONE_INTO_CGROUP with cgroup INT_MAX, a descriptor number no process can hold
    // (fs.nr_open stays below it), lets clone3_args_valid() and copy_process() judge the flags
    // and then fails in cgroup_can_fork() (cgroup_css_set_fork(): EBADF) before the child runs.
    let intoCgroup = (flags ?? []).contains(CloneFlags(rawValue: KABI_CLONE_INTO_CGROUP))
    if size == CloneArgsLayout.ver2.rawValue, cgroup == Self.noDescriptor, intoCgroup { return nil }
    return "args: exit_signal \(exitSignal ?? 0) is valid, so the probe could create a process: "
      + "use one above 0xff, which every kernel that reads the arguments rejects, or "
      + "CLONE_INTO_CGROUP with cgroup \(Self.noDescriptor) at size 88 (EBADF from 5.7)"
  }

  /// A cgroup descriptor number above the most any process can have open (fs.nr_open is at
  /// most INT_MAX rounded down to a multiple of BITS_PER_LONG).
  static let noDescriptor = UInt64(Int32.max)
}

extension FeatureProbe: Decodable {
  /// A probe that does not make sense, such as an unknown kind; the feature's name is added.
  struct Invalid: Error, CustomStringConvertible {
    var description: String
  }

  private enum CodingKeys: String, CodingKey {
    case kind, path, request, args, present, absent, premise, why
  }

  /// The kinds C files register (`KABI_PROBE`, the `kabi_probes` section), by name.
  static let registered = Dictionary(
    uniqueKeysWithValues: (0..<kabi_probe_count()).compactMap { kabi_probe_at($0)?.pointee }.map {
      (String(cString: $0.kind), RegisteredProbe(entry: $0))
    })
  /// Each kind's own keys, the C files' kinds included (the kinds named here come first);
  /// every kind also takes `present`, `absent`, `premise` and `why`.
  static let kinds: [String: Set<String>] = registered.mapValues {
    $0.entry.takes_request != 0 ? ["request"] : []
  }.merging([
    "file": ["path"], "ioctl": ["path", "request"], "clone3": ["args"],
    "file-per-pid-namespace": ["path"],
  ]) { _, own in own }
  private static let commonKeys: Set<String> = ["kind", "present", "absent", "premise", "why"]

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    let kind = try container.decode(String.self, forKey: .kind)
    guard let keys = Self.kinds[kind] else {
      let known = Self.kinds.keys.sorted().joined(separator: ", ")
      throw Invalid(description: "unknown probe kind \"\(kind)\" (known: \(known))")
    }
    if let key = try decoder.firstKey(notIn: keys.union(Self.commonKeys)) {
      throw Invalid(description: "a \(kind) probe has no \"\(key)\" (it takes \(keys.sorted()))")
    }
    func path() throws -> String {
      let path = try container.decode(String.self, forKey: .path)
      guard path.hasPrefix("/") else {
        throw Invalid(description: "path \"\(path)\" is not absolute")
      }
      return path
    }
    switch (kind, Self.registered[kind]) {
    case ("file", _): self.kind = .file(path: try path())
    case ("ioctl", _):
      self.kind = .ioctl(
        path: try path(),
        request: try IoctlRequest(container.decode(String.self, forKey: .request)))
    case ("clone3", _):
      let arguments = try container.decode(CloneArgsSpec.self, forKey: .args)
      try CloneArgsSpec.rejectUnknownFields(
        in: container.decode(Argument.self, forKey: .args), what: "args")
      if let problem = arguments.probeProblem { throw Invalid(description: problem) }
      self.kind = .clone3(arguments)
    case (_, let probe?):  // a kind a C file registers
      self.kind = .registered(
        probe,
        request: try keys.contains("request")
          ? IoctlRequest(container.decode(String.self, forKey: .request)) : nil)
    default: self.kind = .filePerPidNamespace(path: try path())
    }
    present = try container.decodeIfPresent(String.self, forKey: .present).map(
      ProbeAnswer.init)
    absent = try (container.decodeIfPresent([String].self, forKey: .absent) ?? []).map {
      guard let error = Errno(name: $0) else {
        throw Invalid(description: "unknown errno \"\($0)\" in absent")
      }
      return error
    }
    premise = try container.decodeIfPresent(Premise.self, forKey: .premise)
    // Why the answers mean what they mean: prose for the table's readers, only checked.
    _ = try container.decodeIfPresent(String.self, forKey: .why)
    switch self.kind {
    case .file, .filePerPidNamespace:
      if present != nil || !absent.isEmpty {
        throw Invalid(
          description: "a \(kind) probe has no present or absent answer: the file decides")
      }
    case .ioctl, .clone3, .registered:
      if present == nil && absent.isEmpty {
        throw Invalid(description: "a \(kind) probe needs the answer that means present or absent")
      }
    }
    if case .clone3 = self.kind, case .value? = present {
      throw Invalid(description: "a clone3 probe must be rejected: present must be an errno")
    }
  }
}

extension IoctlRequest {
  /// A name from `named`, or a number in hex (`"0xb7ff"`).
  init(_ spelled: String) throws {
    if let known = Self.named[spelled] {
      self = known
    } else if spelled.hasPrefix("0x"), let value = UInt(spelled.dropFirst(2), radix: 16) {
      self.init(value: value, returnsFD: false)
    } else {
      let known = Self.named.keys.sorted().joined(separator: ", ")
      throw FeatureProbe.Invalid(
        description:
          "unknown ioctl request \"\(spelled)\" (known: \(known), or a number such as \"0xb701\")")
    }
  }
}
