import CKernelABI
import Foundation
import Glibc
import KernelABI

/// How many nested user + PID namespaces the sandbox makes: a number, or `"deepest"` (as many as
/// fit below `MAX_PID_NS_LEVEL` from the suite's own level).
public enum SandboxDepth: Decodable, Hashable, Sendable {
  case levels(Int)
  case deepest

  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    // The sandbox makes 1 to MAX_PID_NS_LEVEL levels: a negative count trapped the test
    // process (`UInt32(-1)`), 0 was BROKEN and more SKIPped on every kernel.
    switch try container.decodeNumberOrWord(Int.self) {
    case .number(let number) where (1...Int(KABI_MAX_PID_NS_LEVEL)).contains(number):
      self = .levels(number)
    case .word("deepest"): self = .deepest
    case .number, .word:
      throw DecodingError.dataCorruptedError(
        in: container,
        debugDescription: "levels: 1 to \(KABI_MAX_PID_NS_LEVEL) or \"deepest\"")
    }
  }

  /// The number, or nil for `deepest`.
  var count: Int? {
    if case .levels(let count) = self { return count }
    return nil
  }
}

/// A PID in a fixture's `set_tid`: a number, or `pid_max`, `pid_max-1`, `pid_max+1` (the
/// creator's own `pid_max`, read inside the sandbox just before the call).
public struct TidValue: Decodable, Hashable, Sendable {
  public var number: Int32
  public var relativeToPidMax: Bool

  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    switch try container.decodeNumberOrWord(Int32.self) {
    case .number(let number): (self.number, relativeToPidMax) = (number, false)
    case .word(let word):
      let text = word.replacingOccurrences(of: " ", with: "")
      guard let offset = text.offset(after: "pid_max").flatMap(Int32.init(exactly:)) else {
        throw DecodingError.dataCorruptedError(
          in: container, debugDescription: "not pid_max±n: \"\(text)\"")
      }
      (number, relativeToPidMax) = (offset, true)
    }
  }
}

/// Where a program runs, for the words a table may use instead of numbers.
public struct ProgramContext: Sendable {
  /// The suite's own PID-namespace level (`TestEnvironment.pidNamespaceLevel`).
  public var suiteLevel: Int
  /// Sandbox levels made for the program.
  public var levels: Int
  /// The values of the `$` words (`ProgramEnvironment.opens`).
  public var values: [String: Int64]

  public init(suiteLevel: Int, levels: Int, values: [String: Int64]) {
    self.suiteLevel = suiteLevel
    self.levels = levels
    self.values = values
  }
}

/// What the test process holds for a program's run, named in a table by `$` words in number
/// arguments.
final class ProgramEnvironment {
  /// Each `$` word, with what the test process opens for it (given the index of the step that
  /// names it) and why.
  private static let opens: [String: @Sendable (ProgramEnvironment, Int) throws -> Int64] = [
    // The inode of the host's /proc/sys/kernel/pid_max, held open for the run so it keeps its
    // inode (`own-file`, `write-fd` refuse to write that file).
    "$hostPidMaxInode": { environment, _ in try environment.hold("/proc/sys/kernel/pid_max") },
    // The user-namespace level the program runs at (the initial user namespace is 0): one for
    // each sandbox level that makes a user namespace, where the suite runs in the initial one;
    // -1 elsewhere, as no interface shows the level of another from inside it.
    "$programUserNamespaceLevel": { environment, _ in environment.userNamespaceLevel },
    // The inode of the suite's own PID namespace.
    "$suitePidNamespaceInode": { environment, _ in try environment.hold("/proc/self/ns/pid") },
    // A descriptor clone3's child blocks on (`hold`) until the test process has checked its
    // PIDs from outside (`OutsideCheck`).
    "$outsideHold": { environment, index in
      let check = try OutsideCheck(step: ProgramCall.record(ofStep: index))
      environment.outside = check
      environment.keepDescriptors.append(check.holdDescriptor)
      return Int64(check.holdDescriptor)
    },
    // A descriptor of the nearest of the suite's own cgroup2 directory and its ancestors whose
    // cgroup.procs the suite may not write (SKIP where it may write them all, or without
    // cgroup2).
    "$ownCgroupUnwritable": { environment, _ in environment.pass(try OwnCgroup.openUnwritable()) },
    // A descriptor of the root of a cgroup v1 hierarchy (SKIP where none is mounted).
    "$cgroupV1": { environment, _ in environment.pass(try OwnCgroup.openV1()) },
    // A descriptor of a cgroup2 directory made for the case below the suite's own, removed with
    // everything below it after the run (`CaseCgroup`).
    "$cgroup": { environment, _ in try environment.makeCgroup(enable: []) },
    // The same, with a domain controller enabled for its children (SKIP where none may be).
    "$cgroupControlled": { environment, _ in
      try environment.makeCgroup(enable: CaseCgroup.domainControllers)
    },
    // The same, with the pids controller enabled for its children, whose pids.max the sandbox
    // may then set (SKIP where pids is not enabled for the suite's cgroup's children, e.g.
    // bound to a cgroup v1 hierarchy).
    "$cgroupPids": { environment, _ in try environment.makeCgroup(enable: ["pids"]) },
  ]

  private(set) var values: [String: Int64] = [:]
  private let userNamespaceLevel: Int64
  private(set) var outside: OutsideCheck?
  /// Descriptors the sandbox must keep open.
  private(set) var keepDescriptors: [Int32] = []
  /// Descriptors `close()` closes.
  private var owned: [Int32] = []
  private var cgroup: CaseCgroup?

  /// Opens what the words of `call`, run in `levels` sandbox levels, name; on a failure,
  /// closes what it opened before.
  init(for call: ProgramCall, levels: Int) throws {
    let made = levels - (call.sandboxSpec.inCallersUserNamespace ? 1 : 0)
    userNamespaceLevel = Capabilities.inInitialUserNamespace ? Int64(made) : -1
    do {
      for (index, step) in call.steps.enumerated() {
        for case .text(let word) in step.args.values where values[word] == nil {
          if let open = Self.opens[word] { values[word] = try open(self, index) }
        }
      }
    } catch {
      close()
      throw error
    }
  }

  /// Opens `path` for the run and returns its inode; BROKEN when it cannot: a step that must
  /// never touch the suite's own file would have nothing to compare with.
  private func hold(_ path: String) throws(CaseBroken) -> Int64 {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd >= 0 { owned.append(fd) }  // closed by close(), also when this throws
    var status = stat()
    guard fd >= 0, fstat(fd, &status) == 0 else {
      let error = Errno(rawValue: errno)
      throw CaseBroken(step: "hold \(path), which the sandbox must never write", errno: error)
    }
    return Int64(bitPattern: UInt64(status.st_ino))
  }

  /// `fd` as a number argument: the sandbox gets it, and `close()` closes it.
  private func pass(_ fd: Int32) -> Int64 {
    keepDescriptors.append(fd)
    owned.append(fd)
    return Int64(fd)
  }

  /// The case's cgroup (`CaseCgroup`) as a number argument; BROKEN for a second one.
  private func makeCgroup(enable: [String]) throws -> Int64 {
    guard cgroup == nil else {
      throw CaseBroken(step: "make one cgroup for the case: the program names two")
    }
    let made = try CaseCgroup(enable: enable)
    cgroup = made
    keepDescriptors.append(made.descriptor)
    return Int64(made.descriptor)
  }

  func inspect(_ report: SandboxReport) { outside?.inspect(report) }

  /// Removes the case's cgroup tree once the sandbox has exited; BROKEN when any of it is
  /// left, naming what.
  func removeCgroup() throws(CaseBroken) {
    guard let made = cgroup else { return }
    cgroup = nil
    if let problem = made.remove() {
      throw CaseBroken(step: "remove the case's cgroup: \(problem)")
    }
  }

  func close() {
    _ = cgroup?.remove()
    cgroup = nil
    outside?.finish()
    for fd in owned { Glibc.close(fd) }
    owned = []
  }

  /// The value of `word`; 0 without a context (a table being checked, not run).
  static func value(of word: String, in context: ProgramContext?, what: String)
    throws(ProgramError) -> Int64
  {
    guard opens[word] != nil else {
      throw ProgramError("\(what): no value \(word) (known: \(opens.keys.sorted()))")
    }
    return context?.values[word] ?? 0
  }
}

extension ProgramCall {
  /// FIELD records a clone3 step makes for the engine's own proofs, not the observation.
  func isProof(_ field: SandboxReport) -> Bool {
    step(ofRecord: field.step)?.op == "clone3"
      && ["creatorView", "callersParent", "pid_max"].contains(field.name ?? "")
  }

  /// The PID namespaces the program nests below the sandbox before step `index`.
  func pidNamespaces(before index: Int) -> Int {
    steps.prefix(index).filter { $0.op == "pid-namespaces" }.reduce(0) { total, step in
      if case .number(let count)? = step.args["count"] { return total + Int(count) }
      return total
    }
  }

  /// Sandbox levels for this program where the suite runs; throws a SKIP when the nesting it
  /// needs (sandbox levels, `pid-namespaces`, CLONE_NEWPID) does not fit below
  /// `MAX_PID_NS_LEVEL`.
  func sandboxLevels() throws -> Int {
    guard let suiteLevel = TestEnvironment.pidNamespaceLevel else {
      throw CaseSkip(.environment, "the suite's PID-namespace level is unknown")
    }
    let room = Int(KABI_MAX_PID_NS_LEVEL) - suiteLevel
    switch levels ?? .levels(1) {
    case .deepest:
      guard room >= 1 else {
        throw CaseSkip(.environment, "the suite runs at level \(suiteLevel): no level left to make")
      }
      return room
    case .levels(let count):
      let clonesNewPid = try steps.contains { step in
        try step.args.values.contains { try $0.asksNewPid(what: "flags") }
      }
      let needed =
        count + pidNamespaces(before: steps.count) + (clonesNewPid ? 1 : 0) + (try treeLevels())
      guard needed <= room else {
        throw CaseSkip(
          .environment,
          "needs \(needed) nested PID namespaces; the suite runs at level \(suiteLevel), so only "
            + "\(room) fit below MAX_PID_NS_LEVEL (32)")
      }
      return count
    }
  }
}

extension Argument {
  /// Whether this is a clone_args object whose flags ask for CLONE_NEWPID.
  func asksNewPid(what: String) throws(ProgramError) -> Bool {
    guard case .object(let fields) = self, let flags = fields["flags"] else { return false }
    return try flags.decode(CloneFlags.self, what: what).contains(
      CloneFlags(rawValue: KABI_CLONE_NEWPID))
  }
}

extension CompiledProgram {
  /// A clone_args object with `"set_tid_size": "level+N"` resolved: N more than the
  /// PID-namespace level of the process the step makes (the suite's level, the sandbox's, the
  /// `pid-namespaces` before the step, and one for CLONE_NEWPID). Returns the size it resolved.
  func resolvingLevel(in value: Argument, before index: Int, of call: ProgramCall, what: String)
    throws(ProgramError) -> (Argument, Int?)
  {
    guard case .object(var fields) = value, case .text(let word)? = fields["set_tid_size"] else {
      return (value, nil)
    }
    guard let offset = word.offset(after: "level") else {
      throw ProgramError("\(what): set_tid_size \"\(word)\" is not level±n")
    }
    let level =
      (context.map { $0.suiteLevel + $0.levels } ?? 0)
      + call.pidNamespaces(before: index) + (try value.asksNewPid(what: what) ? 1 : 0)
    let size = max(0, level + offset)
    fields["set_tid_size"] = .number(Int64(size))
    return (.object(fields), size)
  }

  /// SKIPs when a `"level+N"` size exceeds what the kernel checks first.
  func requireLevelSizesFit() throws {
    if let size = levelSizes.first(where: { $0 > Int(KABI_MAX_PID_NS_LEVEL) }) {
      throw CaseSkip(
        .environment,
        "set_tid_size would be \(size) here, which the MAX_PID_NS_LEVEL check rejects first")
    }
  }

  /// Why the process step `call` made did not run as the step asked, or nil: its creator must
  /// see it (`creatorView`), a CLONE_PARENT child must have its caller's parent, a child checked
  /// from outside must look the same there, and a child whose clone_args asked for PIDs inline
  /// must have them (pid_max-relative ones against the pid_max the step reported).
  func childProblem(
    of step: ProgramCall.Step, call: SandboxReport, in run: SandboxRun, outside: OutsideCheck?
  ) -> String? {
    guard let child = run.reports(.child).first(where: { $0.step == call.step }),
      let nspid = child.nspid
    else { return nil }
    let fields = run.reports(.field).filter { $0.step == call.step }
    if case .failure(let errno)? = fields.first(where: { $0.name == "creatorView" })?.result {
      return "the creator cannot open a pidfd for PID \(call.value): \(errno)"
    }
    if step.args["childReadsPidMax"] != .flag(true),
      let parent = fields.first(where: { $0.name == "callersParent" }), child.value != parent.value
    {
      return "the child's parent is PID \(child.value), not the caller's parent "
        + "(PID \(parent.value))"
    }
    if let outside, outside.step == call.step, let problem = outside.verdict {
      return problem
    }
    guard let requested = cloneArgs[call.step]?.requestedPids else { return nil }
    let pidMax = fields.first { $0.name == "pid_max" }?.value
    if pidMax == nil, requested.contains(where: \.relativeToPidMax) {
      return "pid_max was not read before the call"
    }
    let wanted = requested.map { $0.relativeToPidMax ? Int32(pidMax ?? 0) + $0.number : $0.number }
    let got = Array(nspid.reversed().prefix(wanted.count))
    guard got != wanted else { return nil }
    return "set_tid asked for \(Observation.spell(wanted)), the child's NSpid gives "
      + "\(Observation.spell(got)) (innermost first)"
  }
}
