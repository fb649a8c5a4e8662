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
    var scenario = kabi_settid_scenario()
    scenario.kind = Int32(kindCode)
    scenario.flags = cloneFlags.rawValue
    scenario.value = value ?? 0
    scenario.write_pid_max = writePidMax ?? 0
    scenario.write_ns_last_pid = writeNsLastPid ?? -1
    scenario.spawn_before = spawnBefore ?? 0
    scenario.retry = retryWithoutBlocker == true ? 1 : 0
    scenario.child_reads = Int32(childReads == .pidMax ? KABI_CHILD_READS_PID_MAX.rawValue : 0)
    scenario.hold_fd = -1
    scenario.pid_chain = pidNamespaces ?? 0
    scenario.prepare = preparationBits

    let tids = setTid ?? []
    withUnsafeMutableBytes(of: &scenario.tids) { bytes in
      let slots = bytes.bindMemory(to: Int32.self)
      for (index, tid) in tids.prefix(slots.count).enumerated() { slots[index] = tid.number }
    }
    for (index, tid) in tids.enumerated() where tid.relativeToPidMax {
      scenario.pid_max_relative |= 1 << UInt32(index)
    }
    scenario.tid_count = try resolvedSize(levels: levels, count: tids.count)
    if let blocker {
      scenario.blocker_count = UInt32(blocker.count)
      scenario.blocker_flags = blockerFlags?.rawValue ?? 0
      withUnsafeMutableBytes(of: &scenario.blocker) { bytes in
        let slots = bytes.bindMemory(to: Int32.self)
        for (index, tid) in blocker.prefix(slots.count).enumerated() { slots[index] = tid }
      }
    }

    let memory = try GuardedMemory(capacity: RunningKernel.pageSize)
    switch setTidAt ?? (setTid == nil ? .null : .inline) {
    case .inline:
      scenario.array = Int32(KABI_SETTID_INLINE.rawValue)
    case .null:
      scenario.array = Int32(KABI_SETTID_NULL.rawValue)
    case .inaccessible:
      scenario.array = Int32(KABI_SETTID_ADDRESS.rawValue)
      scenario.address = UInt64(UInt(bitPattern: memory.guardAddress))
    case .straddlesGuardPage:
      let readable = memory.bytesEndingAtGuard(MemoryLayout<Int32>.size)
      readable.storeBytes(of: tids.first?.number ?? 1, as: Int32.self)
      scenario.array = Int32(KABI_SETTID_ADDRESS.rawValue)
      scenario.address = UInt64(UInt(bitPattern: readable.baseAddress))
    }

    let outside = OutsideCheck(enabled: verifyFromOutside == true)
    try outside.prepare()
    defer { outside.finish() }
    scenario.hold_fd = outside.holdDescriptor
    let spec = SandboxSpec(
      levels: levels, mapRoot: mapRoot ?? true,
      keepDescriptors: outside.holdDescriptor >= 0 ? [outside.holdDescriptor] : [])
    // Held open for the whole run, so the host's pid_max keeps its inode (see the C struct).
    let hostPidMax = open("/proc/sys/kernel/pid_max", O_RDONLY | O_CLOEXEC)
    defer { if hostPidMax >= 0 { close(hostPidMax) } }
    var hostStat = stat()
    if hostPidMax >= 0, fstat(hostPidMax, &hostStat) == 0 {
      scenario.host_pid_max_ino = UInt64(hostStat.st_ino)
    }
    let run = try Sandbox.run(spec, body: kabi_body_settid, argument: &scenario) { report in
      outside.inspect(report)
    }
    return try observation(of: run, outside: outside)
  }

  private var kindCode: UInt32 {
    switch kind ?? .clone3 {
    case .clone3: KABI_SETTID_CLONE3.rawValue
    case .unshare: KABI_SETTID_UNSHARE.rawValue
    case .readNsLastPid: KABI_SETTID_READ_NS_LAST_PID.rawValue
    case .writeNsLastPid: KABI_SETTID_WRITE_NS_LAST_PID.rawValue
    case .readPidMax: KABI_SETTID_READ_PID_MAX.rawValue
    case .writePidMax: KABI_SETTID_WRITE_PID_MAX.rawValue
    }
  }

  private var preparationBits: UInt32 {
    var bits: UInt32 = 0
    for step in prepare ?? [] {
      switch step {
      case .unsharePid: bits |= KABI_PREP_UNSHARE_PID.rawValue
      case .unshareUser: bits |= KABI_PREP_UNSHARE_USER.rawValue
      case .dropCapabilities: bits |= KABI_PREP_DROP_CAPS.rawValue
      case .dropSysAdmin: bits |= KABI_PREP_DROP_CAPS.rawValue | KABI_PREP_KEEP_CR.rawValue
      case .fromChild: bits |= KABI_PREP_FROM_CHILD.rawValue
      }
    }
    return bits
  }

  /// `set_tid_size`, with `setTidSizeAboveLevels` resolved against where the suite runs.
  private func resolvedSize(levels: Int, count: Int) throws -> UInt32 {
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

  /// Reads a `kabi_body_settid` run.
  func observation(of run: SandboxRun, outside: OutsideCheck) throws -> Observation {
    if let failure = run.setupFailure,
      failure.step == Int32(KABI_SETTID_STEP_HOST_PID_MAX.rawValue)
    {
      return .broken(
        "/proc/sys/kernel/pid_max in the sandbox is the host's, although the probe found "
          + "per-namespace pid_max: not written")
    }
    try run.requireSetUp()
    let calls = run.reports(.call)
    guard let call = calls.first(where: { $0.step == Int32(KABI_SETTID_FIRST.rawValue) }) else {
      return .broken("the sandbox exited (\(run.exitDescription)) without reporting the call")
    }
    if (kind ?? .clone3) != .clone3 {
      switch call.result {
      case .failure(let errno): return .failed(errno)
      case .success(let value):
        guard kind == .writeNsLastPid || kind == .writePidMax else { return .produced(value) }
        // A write is observed as the value that reads back, not as write()'s return.
        let readBack = run.reports(.call).first {
          $0.step == Int32(KABI_SETTID_READ_BACK.rawValue)
        }
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
      if retryWithoutBlocker == true {
        if let broken = checkRetry(run) { return broken }
      }
      return .failed(errno)
    case .success(let pid):
      return checkChild(
        run, call: call, pid: pid, step: Int32(KABI_SETTID_FIRST.rawValue), outside: outside)
    }
  }

  /// Why the child's NSpid does not carry the PIDs `set_tid` asked for, innermost first; nil
  /// when it does, or when the row has no inline `set_tid` to compare with.
  private func requestedPidsProblem(_ nspid: [Int32], run: SandboxRun) -> String? {
    guard let requested = setTid, !requested.isEmpty, (setTidAt ?? .inline) == .inline,
      setTidSize == nil, setTidSizeAboveLevels == nil
    else { return nil }
    let pidMax = run.reports(.call).first {
      $0.step == Int32(KABI_SETTID_PID_MAX_READ.rawValue)
    }?.value
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
  private func checkRetry(_ run: SandboxRun) -> Observation? {
    guard
      let retry = run.reports(.call).first(where: { $0.step == Int32(KABI_SETTID_RETRY.rawValue) })
    else { return .broken("the call was not retried after the blocker was gone") }
    switch retry.result {
    case .failure(let errno):
      return .broken(
        "the same request failed with \(errno.name) once the blocker was gone: "
          + "the failed call left a PID reserved")
    case .success(let pid):
      let child = checkChild(
        run, call: retry, pid: pid, step: Int32(KABI_SETTID_RETRY.rawValue),
        outside: OutsideCheck(enabled: false))
      if let how = child.brokenReason { return .broken("retry: \(how)") }
      guard case .numbers(let nspid)? = child.fields["nspid"], let requested = setTid,
        !requested.contains(where: \.relativeToPidMax),
        Array(nspid.reversed().prefix(requested.count)) == requested.map({ Int64($0.number) })
      else { return .broken("retry: the child did not get the requested PIDs (\(child))") }
      return nil
    }
  }

  private func checkChild(
    _ run: SandboxRun, call: SandboxReport, pid: Int64, step: Int32, outside: OutsideCheck
  ) -> Observation {
    let proof = run.proveChild(returned: pid, by: call, step: step)
    guard proof.brokenReason == nil,
      let child = run.reports(.child).first(where: { $0.step == step }), let nspid = child.nspid
    else { return proof }
    if let pidfd = run.reports(.call).first(where: { $0.step == Int32(KABI_SETTID_PIDFD.rawValue) }
    ),
      case .failure(let errno) = pidfd.result
    {
      return .broken("the creator cannot open a pidfd for PID \(pid): \(errno)")
    }
    if parentIsCallersParent == true, child.value != 1 {
      return .broken("the child's parent is PID \(child.value), not the caller's parent (PID 1)")
    }
    if let problem = outside.verdict(for: child, run: run) { return .broken(problem) }
    if let problem = requestedPidsProblem(nspid, run: run) { return .broken(problem) }
    if childReads == .pidMax { return .produced(child.value) }
    return proof
  }
}
