import CKernelABI
import Foundation
import Glibc
import KernelABI

/// A kernel feature a case depends on, as `Fixtures/features.json` describes it.
public struct FeatureDefinition: Codable, Sendable {
  /// The name cases use, such as `clone3.set_tid`.
  public var name: String
  /// The mainline release that added it: a kernel at or past it that lacks the feature fails.
  public var since: KernelVersion
  /// What the feature is, in one line.
  public var what: String
  /// How the probe decides, in one line (the code is `FeatureProbe`).
  public var probe: String
  /// Distro kernels known to build without the feature, where its absence is a SKIP.
  public var removedIn: [DistroRemoval]?
}

/// A distro kernel that leaves a feature out on purpose.
public struct DistroRemoval: Codable, Sendable {
  /// A substring of `uname -r`, such as `+deb12-rt`.
  public var releaseContains: String
  public var why: String
}

/// What a probe found.
public enum FeatureState: Sendable, Equatable {
  case present
  /// The kernel lacks it: the probe's evidence, such as "clone3 answered ENOSYS".
  case absent(String)
  /// Something outside the kernel hides it (seccomp, a container runtime): the evidence.
  case blocked(String)
}

/// The feature table and the probes behind it; each probe runs once per process.
public enum Features {
  /// `Fixtures/features.json`; empty when it cannot be read, which the result log records as a
  /// fixture error (`FixtureCatalog`), so the run cannot look complete.
  public static let definitions: [String: FeatureDefinition] = {
    do {
      return try loadDefinitions()
    } catch {
      return [:]  // FixtureCatalog.expectedCases records the error for the run.
    }
  }()

  /// Reads `Fixtures/features.json`, throwing what is wrong with it.
  public static func loadDefinitions() throws -> [String: FeatureDefinition] {
    struct File: Codable { var features: [FeatureDefinition] }
    let name = "features.json"
    let data = try Data(contentsOf: Fixtures.directory.appendingPathComponent(name))
    do {
      let file = try JSONDecoder().decode(File.self, from: data)
      return Dictionary(
        file.features.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    } catch let error as DecodingError {
      throw FixtureError(file: name, message: FixtureError.describe(error))
    }
  }

  /// Names that have a probe in code; the fixture validation checks the table against it.
  public static let probedNames: Set<String> = Set(probes.keys)

  /// The probed state of `name`; a name without a probe is reported absent, with that reason.
  public static func state(_ name: String) -> FeatureState {
    cache.withLock { cache in
      if let known = cache[name] { return known }
      let state = probes[name]?() ?? .absent("no probe for \(name) in this suite")
      cache[name] = state
      return state
    }
  }

  /// SKIPs the case unless `name` is present: a case may need more than its own feature.
  public static func requireUsable(_ name: String, for purpose: String) throws {
    switch state(name) {
    case .present: return
    case .blocked(let evidence):
      throw CaseSkip(.environment, "\(purpose) needs \(name), which is refused here: \(evidence)")
    case .absent(let evidence):
      throw CaseSkip(.feature, "\(purpose) needs \(name), which this kernel lacks: \(evidence)")
    }
  }

  /// Every probed feature, for the environment record.
  public static func summary() -> [String: Bool] {
    Dictionary(uniqueKeysWithValues: probes.keys.map { ($0, state($0) == .present) })
  }

  /// The probe's evidence for every feature that is not present.
  public static func evidence() -> [String: String] {
    var evidence: [String: String] = [:]
    for name in probes.keys {
      switch state(name) {
      case .present: break
      case .absent(let why): evidence[name] = "absent: \(why)"
      case .blocked(let why): evidence[name] = "blocked: \(why)"
      }
    }
    return evidence
  }

  private static let cache = LockedValue<[String: FeatureState]>([:])

  private static let probes: [String: @Sendable () -> FeatureState] = [
    "clone3": probeClone3,
    "clone3.set_tid": probeSetTid,
    "clone3.into_cgroup": probeIntoCgroup,
    "pid_namespace.ns_last_pid": probeNsLastPid,
    "pid_namespace.pid_max": probePerNamespacePidMax,
    "pid_namespace.pid_for_children": probePidForChildren,
    "nsfs.get_parent": { probeNsfs(KABI_NS_GET_PARENT, present: { $0 == -Int(EPERM) }) },
    "nsfs.get_nstype": { probeNsfs(KABI_NS_GET_NSTYPE, present: { $0 == Int(KABI_CLONE_NEWPID) }) },
    "nsfs.get_owner_uid": { probeNsfs(KABI_NS_GET_OWNER_UID, present: { $0 == -Int(EINVAL) }) },
  ]

  /// An nsfs ioctl on the suite's own `/proc/self/ns/pid`: ENOTTY before the kernel had it.
  /// NS_GET_PARENT answers EPERM there (the parent, if any, is outside the active namespace).
  private static func probeNsfs(_ request: Int, present: (Int) -> Bool) -> FeatureState {
    let fd = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
      return .blocked("cannot open /proc/self/ns/pid: \(Errno(rawValue: errno))")
    }
    defer { close(fd) }
    let result = kabi_ioctl(fd, UInt(request), 0)
    if result >= 0, request == KABI_NS_GET_PARENT { close(Int32(result)) }
    if present(result) { return .present }
    let call = "ioctl(/proc/self/ns/pid, 0x\(String(request, radix: 16)))"
    return .absent(
      result < 0
        ? "\(call) answered \(Errno(rawValue: Int32(-result)).name)" : "\(call) returned \(result)")
  }

  /// `/proc/sys/kernel/ns_last_pid` exists only with CONFIG_CHECKPOINT_RESTORE.
  private static func probeNsLastPid() -> FeatureState {
    if access("/proc/sys/kernel/ns_last_pid", F_OK) == 0 { return .present }
    let error = Errno(rawValue: errno)
    if access("/proc/sys/kernel", F_OK) != 0 { return .blocked("/proc/sys is not mounted") }
    return .absent("/proc/sys/kernel/ns_last_pid: \(error.name)")
  }

  /// The file reaches NS_GET_PARENT's child-namespace case; 4.9 to 4.11 have the ioctl
  /// without it, where that case is a SKIP, not a setup failure.
  private static func probePidForChildren() -> FeatureState {
    if access("/proc/self/ns/pid_for_children", F_OK) == 0 { return .present }
    let error = Errno(rawValue: errno)
    if access("/proc/self/ns/pid", F_OK) != 0 { return .blocked("/proc is not mounted") }
    return .absent("/proc/self/ns/pid_for_children: \(error.name)")
  }

  /// With per-namespace pid_max (6.14), a PID namespace looks up its own sysctl table, so
  /// `/proc/sys/kernel/pid_max` is another inode inside a sandbox than outside it; before, one
  /// table (and, while the test holds it open, one inode) serves every namespace. Nothing is
  /// written: as real root a write would change the host's pid_max on an older kernel.
  private static func probePerNamespacePidMax() -> FeatureState {
    let fd = open("/proc/sys/kernel/pid_max", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
      return .blocked("cannot open /proc/sys/kernel/pid_max: \(Errno(rawValue: errno))")
    }
    defer { close(fd) }
    var outside = stat()
    guard fstat(fd, &outside) == 0 else {
      return .blocked("fstat pid_max: \(Errno(rawValue: errno))")
    }
    let probe = ProgramCall(steps: [
      .init("inode", args: ["path": .text("/proc/sys/kernel/pid_max")])
    ])
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
      return .blocked("opening pid_max inside a sandbox failed: \(error)")
    case .success(let inode):
      if UInt64(inode) != UInt64(outside.st_ino) { return .present }
      return .absent(
        "/proc/sys/kernel/pid_max is the same inode (\(inode)) in a child PID namespace")
    }
  }

  /// An invalid exit_signal is rejected only by a kernel that parsed the arguments (kselftest's
  /// test_clone3_supported).
  private static func probeClone3() -> FeatureState {
    classify(clone3ProbeResult, present: .EINVAL, call: "clone3(exit_signal 0x100)")
  }

  private static let clone3ProbeResult: Int = {
    var args = kabi_clone_args()
    args.exit_signal = 0x100
    return kabi_clone3_probe(&args, 64)
  }()

  /// What clone3 answered the probe, when it failed.
  public static var clone3Answer: Errno? {
    clone3ProbeResult < 0 ? Errno(rawValue: Int32(-clone3ProbeResult)) : nil
  }

  /// set_tid without set_tid_size is EINVAL from 5.5; 5.3 and 5.4 see a non-zero unknown tail
  /// and answer E2BIG (CRIU probes the same way).
  private static func probeSetTid() -> FeatureState {
    var args = kabi_clone_args()
    var tid: Int32 = 1
    args.exit_signal = 0x100
    args.set_tid = UInt64(UInt(bitPattern: withUnsafeMutablePointer(to: &tid) { $0 }))
    return classify(
      kabi_clone3_probe(&args, 80), present: .EINVAL, call: "clone3(set_tid, size 80)")
  }

  /// A non-zero cgroup field is an unknown tail (E2BIG) before 5.7; from 5.7 the invalid
  /// exit_signal is what fails.
  private static func probeIntoCgroup() -> FeatureState {
    var args = kabi_clone_args()
    args.exit_signal = 0x100
    args.cgroup = 1
    return classify(kabi_clone3_probe(&args, 88), present: .EINVAL, call: "clone3(cgroup, size 88)")
  }

  private static func classify(_ result: Int, present: Errno, call: String) -> FeatureState {
    guard result < 0 else { return .absent("\(call) created a process instead of failing") }
    let errno = Errno(rawValue: Int32(-result))
    if errno == present { return .present }
    if errno == .ENOSYS || errno == .EPERM, let seccomp = TestEnvironment.seccompMode,
      seccomp != 0
    {
      return .blocked("\(call) answered \(errno.name) under seccomp mode \(seccomp)")
    }
    return .absent("\(call) answered \(errno.name)")
  }
}

/// A value behind a lock, for caches shared by parallel tests.
final class LockedValue<Value>: @unchecked Sendable {
  private var value: Value
  private let lock = NSLock()

  init(_ value: Value) { self.value = value }

  func withLock<Result>(_ body: (inout Value) -> Result) -> Result {
    lock.lock()
    defer { lock.unlock() }
    return body(&value)
  }
}
