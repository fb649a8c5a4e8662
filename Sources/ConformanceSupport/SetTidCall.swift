import CKernelABI
import Foundation
import Glibc
import KernelABI

/// A PID in a fixture's `set_tid`: a number, or `pid_max`, `pid_max-1`, `pid_max+1` (the
/// creator's own `pid_max`, read inside the sandbox just before the call).
public struct TidValue: Codable, Hashable, Sendable, CustomStringConvertible {
  public var number: Int32
  public var relativeToPidMax: Bool

  public init(_ number: Int32, relativeToPidMax: Bool = false) {
    self.number = number
    self.relativeToPidMax = relativeToPidMax
  }

  public init(from decoder: any Decoder) throws {
    let text: String
    switch try decoder.singleValueContainer().decodeNumberOrWord(Int32.self) {
    case .number(let number):
      self.init(number)
      return
    case .word(let word):
      text = word.replacingOccurrences(of: " ", with: "")
    }
    guard text.hasPrefix("pid_max") else {
      throw DecodingError.dataCorrupted(
        .init(codingPath: decoder.codingPath, debugDescription: "not a PID: \"\(text)\""))
    }
    let rest = text.dropFirst("pid_max".count)
    guard let offset = rest.isEmpty ? 0 : Int32(rest.hasPrefix("+") ? rest.dropFirst() : rest)
    else {
      throw DecodingError.dataCorrupted(
        .init(codingPath: decoder.codingPath, debugDescription: "not pid_max±n: \"\(text)\""))
    }
    self.init(offset, relativeToPidMax: true)
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    if relativeToPidMax { try container.encode(description) } else { try container.encode(number) }
  }

  public var description: String {
    guard relativeToPidMax else { return "\(number)" }
    return number == 0 ? "pid_max" : number > 0 ? "pid_max+\(number)" : "pid_max\(number)"
  }
}

/// How many nested user + PID namespaces the sandbox makes: a number, or `"deepest"` (as many as
/// fit below `MAX_PID_NS_LEVEL` from the suite's own level).
public enum SandboxDepth: Codable, Hashable, Sendable {
  case levels(Int)
  case deepest

  public init(from decoder: any Decoder) throws {
    switch try decoder.singleValueContainer().decodeNumberOrWord(Int.self) {
    case .number(let number):
      self = .levels(number)
    case .word("deepest"):
      self = .deepest
    case .word:
      throw DecodingError.dataCorrupted(
        .init(codingPath: decoder.codingPath, debugDescription: "levels: a number or \"deepest\""))
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    switch self {
    case .levels(let count): try container.encode(count)
    case .deepest: try container.encode("deepest")
    }
  }
}

/// One set_tid, ns_last_pid or pid_max scenario, run in the innermost level of a sandbox.
///
/// Preparation runs first (in this order: `spawnBefore`, `writePidMax`, the blocker, `prepare`,
/// `writeNsLastPid`), then the call under test; with `retryWithoutBlocker` the blocker is then
/// released and the same call made again, which must succeed with exactly the requested PIDs:
/// a failed call that kept a PID reserved fails the case.
public struct SetTidCall: Codable, Hashable, Sendable {
  public enum Kind: String, Codable, Sendable {
    case clone3, unshare, readNsLastPid, writeNsLastPid, readPidMax, writePidMax
  }

  /// Where `set_tid` points.
  public enum Placement: String, Codable, Sendable {
    case inline, null, inaccessible
    /// `set_tid[0]` is readable, `set_tid[1]` lies in an inaccessible page.
    case straddlesGuardPage
  }

  public enum Preparation: String, Codable, Sendable {
    /// `unshare(CLONE_NEWPID)`: the creator's children go to a namespace that has no init yet.
    case unsharePid = "unshare(CLONE_NEWPID)"
    /// `unshare(CLONE_NEWUSER)`: the creator keeps its PID namespaces but loses every capability
    /// over them (they are owned by the user namespace it left).
    case unshareUser = "unshare(CLONE_NEWUSER)"
    /// capset: drop CAP_SYS_ADMIN and CAP_CHECKPOINT_RESTORE.
    case dropCapabilities = "drop CAP_SYS_ADMIN and CAP_CHECKPOINT_RESTORE"
    /// capset: drop CAP_SYS_ADMIN only.
    case dropSysAdmin = "drop CAP_SYS_ADMIN"
    /// A child of the sandbox's init makes the call (an init may not use CLONE_PARENT).
    case fromChild = "call from a child"
  }

  public enum ChildReads: String, Codable, Sendable {
    case ppid
    case pidMax = "pid_max"
  }

  public var kind: Kind?
  /// Sandbox levels (each a user + PID namespace pair); 1 when absent.
  public var levels: SandboxDepth?
  /// PID namespaces (CLONE_NEWPID only) nested below the sandbox before the call: all owned by
  /// the innermost sandbox level's user namespace, so the caller may choose PIDs in each.
  public var pidNamespaces: UInt32?
  /// Map uid 0 at every level (default); false leaves the creator the overflow uid.
  public var mapRoot: Bool?
  /// Flags of the call under test (clone3 or unshare), by name.
  public var flags: CloneFlags?
  /// `set_tid`, innermost level first.
  public var setTid: [TidValue]?
  /// `set_tid_size`; the count of `setTid` when absent.
  public var setTidSize: UInt32?
  /// `set_tid_size` = the new process's PID-namespace level + 1 + this (one more than allowed).
  public var setTidSizeAboveLevels: UInt32?
  public var setTidAt: Placement?
  public var prepare: [Preparation]?
  /// Automatic children made and reaped before the call.
  public var spawnBefore: UInt32?
  public var writePidMax: Int32?
  public var writeNsLastPid: Int32?
  /// `set_tid` of a process that holds its PIDs while the call is made.
  public var blocker: [Int32]?
  public var blockerFlags: CloneFlags?
  public var retryWithoutBlocker: Bool?
  /// The value the write kinds write.
  public var value: Int64?
  /// What the new process reports about itself besides its PIDs: its parent (default) or the
  /// `pid_max` of its own namespace (then the observation is that value).
  public var childReads: ChildReads?
  /// CLONE_PARENT: the new process's parent must be the caller's parent (the sandbox's init).
  public var parentIsCallersParent: Bool?
  /// Hold the new process until the test process has checked its PIDs from outside: NSpid in
  /// `/proc/<pid>/status`, and its PID as each sandbox level's namespace sees it.
  public var verifyFromOutside: Bool?

  public init() {}

  var cloneFlags: CloneFlags { flags ?? [] }
}

extension SetTidCall: CheckedCall {
  public var problem: String? {
    ((kind ?? .clone3) == .clone3 ? flags?.stacklessProblem : nil)
      ?? blockerFlags?.stacklessProblem
  }
}

extension SetTidCall {
  /// Sandbox levels for this row where the suite runs; throws a SKIP when they do not fit.
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
      let needed =
        count + Int(pidNamespaces ?? 0)
        + (cloneFlags.contains(CloneFlags(rawValue: KABI_CLONE_NEWPID)) ? 1 : 0)
      guard needed <= room else {
        throw CaseSkip(
          .environment,
          "needs \(needed) nested PID namespaces; the suite runs at level \(suiteLevel), so only "
            + "\(room) fit below MAX_PID_NS_LEVEL (32)")
      }
      return count
    }
  }

  /// Runs the scenario in a fresh sandbox and reads back what happened.
  public func observe() throws -> Observation {
    if (kind ?? .clone3) == .clone3 || blocker != nil {
      try Features.requireUsable("clone3", for: "the call or its setup")
    }
    let levels = try sandboxLevels()
    let outside = OutsideCheck(enabled: verifyFromOutside == true)
    try outside.prepare()
    defer { outside.finish() }
    // Held open for the whole run, so the host's pid_max keeps its inode (see own-file).
    let hostPidMax = open(Self.pidMaxPath, O_RDONLY | O_CLOEXEC)
    defer { if hostPidMax >= 0 { close(hostPidMax) } }
    var hostStat = stat()
    let hostInode = hostPidMax >= 0 && fstat(hostPidMax, &hostStat) == 0 ? hostStat.st_ino : 0

    let plan = try SetTidProgram(
      self, levels: levels, hostPidMaxInode: UInt64(hostInode),
      holdDescriptor: outside.holdDescriptor)
    outside.step = plan.callStep
    let spec = SandboxSpec(
      levels: levels, mapRoot: mapRoot ?? true,
      keepDescriptors: outside.holdDescriptor >= 0 ? [outside.holdDescriptor] : [])
    let run = try plan.program.run(spec: spec) { outside.inspect($0) }
    return try withExtendedLifetime(plan) { try observation(of: run, plan: plan, outside: outside) }
  }

  static let pidMaxPath = "/proc/sys/kernel/pid_max"
  static let nsLastPidPath = "/proc/sys/kernel/ns_last_pid"

  /// `set_tid_size`, with `setTidSizeAboveLevels` resolved against where the suite runs.
  func resolvedSize(levels: Int, count: Int) throws -> UInt32 {
    guard let above = setTidSizeAboveLevels else { return setTidSize ?? UInt32(count) }
    let newLevel =
      (TestEnvironment.pidNamespaceLevel ?? 0) + levels + Int(pidNamespaces ?? 0)
      + (cloneFlags.contains(CloneFlags(rawValue: KABI_CLONE_NEWPID)) ? 1 : 0)
    let size = newLevel + 1 + Int(above)
    guard size <= Int(KABI_MAX_PID_NS_LEVEL) else {
      throw CaseSkip(
        .environment,
        "set_tid_size would be \(size) here, which the MAX_PID_NS_LEVEL check rejects first")
    }
    return UInt32(size)
  }

  /// Reads a run of the scenario's program.
  func observation(of run: SandboxRun, plan: SetTidProgram, outside: OutsideCheck) throws
    -> Observation
  {
    if let failure = run.reports(.setupFailed).first, failure.name == "own-file" {
      return .broken(
        "/proc/sys/kernel/pid_max in the sandbox is the host's, although the probe found "
          + "per-namespace pid_max: not written")
    }
    try plan.program.requireSetUp(run)
    guard let call = run.reports(.call).first(where: { $0.step == plan.callStep }) else {
      return .broken("the sandbox exited (\(run.exitDescription)) without reporting the call")
    }
    if (kind ?? .clone3) != .clone3 {
      switch call.result {
      case .failure(let errno): return .failed(errno)
      case .success(let value):
        guard let readBackStep = plan.readBackStep else { return .produced(value) }
        // A write is observed as the value that reads back, not as write()'s return.
        let readBack = run.reports(.call).first { $0.step == readBackStep }
        switch readBack?.result {
        case .success(let value): return .produced(value)
        case .failure(let errno):
          return .broken("the write succeeded but reading back failed: \(errno)")
        case nil: return .broken("the write succeeded but nothing was read back")
        }
      }
    }
    switch call.result {
    case .failure(let errno):
      if let retryStep = plan.retryStep, let broken = checkRetry(run, step: retryStep) {
        return broken
      }
      return .failed(errno)
    case .success(let pid):
      return checkChild(run, call: call, pid: pid, outside: outside)
    }
  }

  /// Why the child's NSpid does not carry the PIDs `set_tid` asked for, innermost first; nil
  /// when it does, or when the row has no inline `set_tid` to compare with.
  private func requestedPidsProblem(_ nspid: [Int32], run: SandboxRun, step: Int32) -> String? {
    guard let requested = setTid, !requested.isEmpty, (setTidAt ?? .inline) == .inline,
      setTidSize == nil, setTidSizeAboveLevels == nil
    else { return nil }
    let pidMax = run.reports(.field).first { $0.step == step && $0.name == "pid_max" }?.value
    var wanted: [Int32] = []
    for tid in requested {
      guard tid.relativeToPidMax else {
        wanted.append(tid.number)
        continue
      }
      guard let pidMax else { return "pid_max was not read before the call" }
      wanted.append(Int32(pidMax) + tid.number)
    }
    let got = Array(nspid.reversed().prefix(wanted.count))
    guard got != wanted else { return nil }
    return "set_tid asked for \(Observation.spell(wanted)), the child's NSpid gives "
      + "\(Observation.spell(got)) (innermost first)"
  }

  /// The retried call must succeed once the blocker is gone: otherwise a PID leaked.
  private func checkRetry(_ run: SandboxRun, step: Int32) -> Observation? {
    guard let retry = run.reports(.call).first(where: { $0.step == step }) else {
      return .broken("the call was not retried after the blocker was gone")
    }
    switch retry.result {
    case .failure(let errno):
      return .broken(
        "the same request failed with \(errno.name) once the blocker was gone: "
          + "the failed call left a PID reserved")
    case .success(let pid):
      let child = checkChild(run, call: retry, pid: pid, outside: OutsideCheck(enabled: false))
      if let how = child.brokenReason { return .broken("retry: \(how)") }
      guard case .numbers(let nspid)? = child.fields["nspid"], let requested = setTid,
        !requested.contains(where: \.relativeToPidMax),
        Array(nspid.reversed().prefix(requested.count)) == requested.map({ Int64($0.number) })
      else { return .broken("retry: the child did not get the requested PIDs (\(child))") }
      return nil
    }
  }

  private func checkChild(
    _ run: SandboxRun, call: SandboxReport, pid: Int64, outside: OutsideCheck
  ) -> Observation {
    let step = call.step
    let proof = run.proveChild(returned: pid, by: call, step: step)
    guard proof.brokenReason == nil,
      let child = run.reports(.child).first(where: { $0.step == step }), let nspid = child.nspid
    else { return proof }
    let view = run.reports(.field).first { $0.step == step && $0.name == "creatorView" }
    if case .failure(let errno)? = view?.result {
      return .broken("the creator cannot open a pidfd for PID \(pid): \(errno)")
    }
    if parentIsCallersParent == true, child.value != 1 {
      return .broken("the child's parent is PID \(child.value), not the caller's parent (PID 1)")
    }
    if let problem = outside.verdict(for: child, run: run) { return .broken(problem) }
    if let problem = requestedPidsProblem(nspid, run: run, step: step) { return .broken(problem) }
    if childReads == .pidMax { return .produced(child.value) }
    return proof
  }
}

/// A set_tid, ns_last_pid or pid_max row as a program for `kabi_body_settid`, with the memory
/// its clone3 steps point at (kept alive as long as this value).
///
/// The steps, each only where the row asks for it: nest PID namespaces; check that pid_max is
/// the sandbox's own before any write to it; make automatic children; write pid_max; start the
/// blocker; unshare a PID, then a user namespace; drop capabilities; write ns_last_pid; the call
/// under test (a write is followed by reading the value back); release the blocker and make the
/// same call again.
final class SetTidProgram {
  private(set) var program = ProgramCall(steps: [])
  /// Record steps of the call under test, its read-back and its retry.
  private(set) var callStep: Int32 = 0
  private(set) var readBackStep: Int32?
  private(set) var retryStep: Int32?
  private var requests: [CloneRequest] = []
  private let memory: GuardedMemory

  init(_ row: SetTidCall, levels: Int, hostPidMaxInode: UInt64, holdDescriptor: Int32) throws {
    memory = try GuardedMemory(capacity: RunningKernel.pageSize)
    let pidMax = SetTidCall.pidMaxPath
    let kind = row.kind ?? .clone3
    let preparation = Set(row.prepare ?? [])

    if let count = row.pidNamespaces, count > 0 {
      add(.init("pid-namespaces", args: [Int64(count)], setup: true))
    }
    if kind == .writePidMax || row.writePidMax != nil {
      add(.init("own-file", path: pidMax, args: [Int64(bitPattern: hostPidMaxInode)], setup: true))
    }
    if let count = row.spawnBefore, count > 0 {
      add(.init("fork-reap", args: [Int64(count)], setup: true))
    }
    if let value = row.writePidMax {
      add(.init("write", path: pidMax, args: [Int64(value)], setup: true))
    }
    if let blocker = row.blocker {
      let request = CloneRequest(flags: row.blockerFlags ?? [], tids: blocker)
      requests.append(request)
      var blockerStep = ProgramCall.Step(
        "blocker", args: [request.address, Int64(CloneArgsLayout.ver2.rawValue), 0], setup: true)
      blockerStep.label = "blocker"
      add(blockerStep)
    }
    if preparation.contains(.unsharePid) {
      add(.init("unshare", flags: CloneFlags(rawValue: KABI_CLONE_NEWPID), setup: true))
    }
    if preparation.contains(.unshareUser) {
      add(.init("unshare", flags: CloneFlags(rawValue: KABI_CLONE_NEWUSER), setup: true))
    }
    if preparation.contains(.dropCapabilities) || preparation.contains(.dropSysAdmin) {
      let sysAdmin = Int64(1) << 21
      let checkpointRestore = preparation.contains(.dropCapabilities) ? Int64(1) << 40 : 0
      add(.init("drop-caps", args: [sysAdmin | checkpointRestore], setup: true))
    }
    if let value = row.writeNsLastPid {
      add(.init("write", path: SetTidCall.nsLastPidPath, args: [Int64(value)], setup: true))
    }

    switch kind {
    case .clone3:
      let request = try clone3Request(row, levels: levels)
      requests.append(request)
      var options: Int64 = Int64(KABI_CLONE3_CREATOR_VIEW.rawValue)
      if row.childReads == .pidMax { options |= Int64(KABI_CLONE3_CHILD_READS_PID_MAX.rawValue) }
      if preparation.contains(.fromChild) { options |= Int64(KABI_CLONE3_FROM_CHILD.rawValue) }
      var relative: Int64 = 0
      for (index, tid) in (row.setTid ?? []).enumerated() where tid.relativeToPidMax {
        relative |= 1 << Int64(index)
      }
      let size = Int64(CloneArgsLayout.ver2.rawValue)
      let retry = row.retryWithoutBlocker == true && row.blocker != nil
      callStep = add(
        .init(
          "clone3", args: [request.address, size, relative, options, Int64(holdDescriptor) + 1],
          goOn: retry))
      if retry {
        add(
          .init(
            "release", args: ["pid": .text("@blocker"), "fd": .text("@blocker.release")],
            setup: true))
        retryStep = add(.init("clone3", args: [request.address, size, relative, options, 0]))
      }
    case .unshare:
      callStep = add(.init("unshare", flags: row.cloneFlags))
    case .readNsLastPid:
      callStep = add(.init("read", path: SetTidCall.nsLastPidPath))
    case .readPidMax:
      callStep = add(.init("read", path: pidMax))
    case .writeNsLastPid, .writePidMax:
      let path = kind == .writePidMax ? pidMax : SetTidCall.nsLastPidPath
      callStep = add(.init("write", path: path, args: [row.value ?? 0]))
      readBackStep = add(.init("read", path: path))
    }
  }

  @discardableResult
  private func add(_ step: ProgramCall.Step) -> Int32 {
    program.steps.append(step)
    return Int32(KABI_PROGRAM_FIRST_STEP) + Int32(program.steps.count - 1)
  }

  /// The call under test's clone_args, with `set_tid` where the row places it.
  private func clone3Request(_ row: SetTidCall, levels: Int) throws -> CloneRequest {
    let tids = (row.setTid ?? []).map(\.number)
    let size = try row.resolvedSize(levels: levels, count: tids.count)
    let request = CloneRequest(flags: row.cloneFlags, tids: tids, size: UInt64(size))
    switch row.setTidAt ?? (row.setTid == nil ? .null : .inline) {
    case .inline: break
    case .null: request.pointSetTid(at: 0)
    case .inaccessible: request.pointSetTid(at: UInt(bitPattern: memory.guardAddress))
    case .straddlesGuardPage:
      let readable = memory.bytesEndingAtGuard(MemoryLayout<Int32>.size)
      readable.storeBytes(of: tids.first ?? 1, as: Int32.self)
      request.pointSetTid(at: UInt(bitPattern: readable.baseAddress))
    }
    return request
  }
}

/// A `struct clone_args` and its `set_tid` array, in memory that sandbox processes read.
final class CloneRequest {
  private let args = UnsafeMutablePointer<kabi_clone_args>.allocate(capacity: 1)
  private let tids = UnsafeMutableBufferPointer<Int32>.allocate(
    capacity: Int(KABI_MAX_PID_NS_LEVEL) + 1)

  /// `flags`, SIGCHLD as exit signal unless CLONE_PARENT or CLONE_THREAD, and `tids` (at most
  /// 33) as `set_tid` with `size` entries (their count when absent).
  init(flags: CloneFlags, tids values: [Int32], size: UInt64? = nil) {
    tids.initialize(repeating: 0)
    for (index, value) in values.prefix(tids.count).enumerated() { tids[index] = value }
    var request = kabi_clone_args()
    request.flags = flags.rawValue
    let parentOrThread = UInt64(KABI_CLONE_PARENT) | UInt64(KABI_CLONE_THREAD)
    request.exit_signal = flags.rawValue & parentOrThread != 0 ? 0 : UInt64(SIGCHLD)
    request.set_tid = values.isEmpty ? 0 : UInt64(UInt(bitPattern: tids.baseAddress))
    request.set_tid_size = size ?? UInt64(values.count)
    args.initialize(to: request)
  }

  deinit {
    args.deallocate()
    tids.deallocate()
  }

  func pointSetTid(at address: UInt) { args.pointee.set_tid = UInt64(address) }

  var address: Int64 { Int64(Int(bitPattern: args)) }
}
