import CKernelABI
import Glibc
import KernelABI

/// A byte count or offset in a fixture: a number, or `PAGE_SIZE`, `PAGE_SIZE+1`, `PAGE_SIZE-1`.
///
/// Resolved against the running system's page size, never a constant.
public struct ByteCount: Codable, Hashable, Sendable, CustomStringConvertible {
  public var pages: Int
  public var bytes: Int

  public init(from decoder: any Decoder) throws {
    let text: String
    switch try decoder.singleValueContainer().decodeNumberOrWord(Int.self) {
    case .number(let number):
      (pages, bytes) = (0, number)
      return
    case .word(let word):
      text = word.replacingOccurrences(of: " ", with: "")
    }
    guard let parsed = Self.parse(text) else {
      throw DecodingError.dataCorrupted(
        .init(
          codingPath: decoder.codingPath,
          debugDescription: "not a byte count: \"\(text)\" (a number, PAGE_SIZE or PAGE_SIZE±n)"))
    }
    (pages, bytes) = parsed
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(description)
  }

  private static func parse(_ text: String) -> (Int, Int)? {
    if let number = Int(text) { return (0, number) }
    guard text.hasPrefix("PAGE_SIZE") else { return nil }
    let rest = text.dropFirst("PAGE_SIZE".count)
    if rest.isEmpty { return (1, 0) }
    guard let sign = rest.first, sign == "+" || sign == "-", let amount = Int(rest.dropFirst())
    else { return nil }
    return (1, sign == "+" ? amount : -amount)
  }

  /// The number of bytes on the running system.
  public var resolved: Int { pages * RunningKernel.pageSize + bytes }

  public var description: String {
    switch (pages, bytes) {
    case (0, let bytes): "\(bytes)"
    case (_, 0): "PAGE_SIZE"
    case (_, let bytes) where bytes > 0: "PAGE_SIZE+\(bytes)"
    case (_, let bytes): "PAGE_SIZE\(bytes)"
    }
  }
}

/// Where a `struct clone_args` sits in memory for a call.
public enum ArgsPlacement: String, Codable, Sendable {
  /// In readable memory, with an inaccessible page right after `max(size, 88) + 8` bytes.
  case normal
  /// The last byte of `size` ends right before an inaccessible page: any over-read faults.
  case endsAtGuardPage
  /// Only `readableBytes` of the struct are readable; the rest lies in an inaccessible page.
  case straddlesGuardPage
  /// The pointer is to an inaccessible page.
  case inaccessible
  /// The pointer is NULL.
  case null
}

/// One clone3 call as a fixture states it: the bytes of `struct clone_args` and its size.
public struct Clone3Call: Codable, Hashable, Sendable {
  /// The `size` argument.
  public var size: ByteCount
  /// Flag names, such as `["CLONE_INTO_CGROUP"]`.
  public var flags: CloneFlags?
  /// `exit_signal`; SIGCHLD when absent.
  public var exitSignal: UInt64?
  /// PIDs for `set_tid`, innermost level first; `set_tid_size` is their count unless given.
  public var setTid: [Int32]?
  public var setTidSize: UInt64?
  public var cgroup: UInt64?
  /// Offsets (into the bytes passed) set to 0x01.
  public var nonZeroBytesAt: [ByteCount]?
  /// Fill every byte from `size` to the end of the buffer with 0xff: a kernel that reads past
  /// `size` instead of zero-filling would see a huge set_tid_size (EINVAL) or a non-zero tail
  /// (E2BIG).
  public var poisonAfterSize: Bool?
  public var placement: ArgsPlacement?
  /// For `straddlesGuardPage`: how many bytes are readable.
  public var readableBytes: Int?

}

extension Clone3Call: CheckedCall {
  public var problem: String? { flags?.stacklessProblem }
}

extension Clone3Call {
  /// Makes the call from PID 1 of a fresh sandbox and reads back what happened.
  ///
  /// Success counts only when the new process reported its own PID and that PID is the one
  /// clone3 returned.
  public func observe() throws -> Observation {
    let size = self.size.resolved
    let bufferBytes = max(size, CloneArgsLayout.ver2.rawValue) + 8
    let memory = try GuardedMemory(capacity: bufferBytes)
    let tids = UnsafeMutableBufferPointer<Int32>.allocate(capacity: max(1, setTid?.count ?? 0))
    defer { tids.deallocate() }

    let address: UInt
    switch placement ?? .normal {
    case .normal:
      address = fill(memory.bytesEndingAtGuard(bufferBytes), size: size, tids: tids)
    case .endsAtGuardPage:
      address = fill(memory.bytesEndingAtGuard(size), size: size, tids: tids)
    case .straddlesGuardPage:
      address = fill(memory.bytesEndingAtGuard(readableBytes ?? 0), size: size, tids: tids)
    case .inaccessible:
      address = UInt(bitPattern: memory.guardAddress)
    case .null:
      address = 0
    }

    let program = ProgramCall(steps: [
      .init("clone3", args: [Int64(bitPattern: UInt64(address)), Int64(size), 0])
    ])
    return try withExtendedLifetime(memory) { try program.observe() }
  }

  /// Writes the fields that fit into `bytes` and returns its address.
  private func fill(
    _ bytes: UnsafeMutableRawBufferPointer, size: Int, tids: UnsafeMutableBufferPointer<Int32>
  ) -> UInt {
    func put(_ value: UInt64, at offset: Int) {
      guard offset + 8 <= bytes.count else { return }
      bytes.storeBytes(of: value, toByteOffset: offset, as: UInt64.self)
    }
    put(flags?.rawValue ?? 0, at: CloneArgsLayout.Offset.flags)
    put(exitSignal ?? UInt64(SIGCHLD), at: CloneArgsLayout.Offset.exitSignal)
    if let setTid {
      _ = tids.initialize(from: setTid)
      put(UInt64(UInt(bitPattern: tids.baseAddress)), at: CloneArgsLayout.Offset.setTid)
      put(setTidSize ?? UInt64(setTid.count), at: CloneArgsLayout.Offset.setTidSize)
    } else if let setTidSize {
      put(setTidSize, at: CloneArgsLayout.Offset.setTidSize)
    }
    if let cgroup { put(cgroup, at: CloneArgsLayout.Offset.cgroup) }
    for offset in nonZeroBytesAt ?? [] where offset.resolved < bytes.count {
      bytes[offset.resolved] = 0x01
    }
    if poisonAfterSize == true, size < bytes.count {
      for index in size..<bytes.count { bytes[index] = 0xff }
    }
    return UInt(bitPattern: bytes.baseAddress)
  }
}

extension SandboxRun {
  /// Throws BROKEN when the sandbox itself, not the call under test, failed: a setup step
  /// reported SETUP_FAILED, or the run hit its timeout.
  public func requireSetUp() throws(CaseBroken) {
    if let report = reports(.setupFailed).first, case .failure(let errno) = report.result {
      throw CaseBroken(
        sandboxStep: report.step, level: report.level, errno: errno, name: report.name)
    }
    if timedOut { throw CaseBroken(timedOut: self) }
  }

  /// How the outermost process ended, in words.
  public var exitDescription: String {
    if let exitCode { return "exit \(exitCode)" }
    return "signal \(signal ?? 0)"
  }

  /// The one proof, for every area, that a call which returned `pid` made a process that ran
  /// with the IDs claimed: the process reported back (record `step`), its NSpid ends with its
  /// own getpid(), the entry at its creator's level is `pid`, and it exited 0. The observation
  /// is the PID and the NSpid from the sandbox's outermost level; otherwise it is broken.
  public func proveChild(returned pid: Int64, by call: SandboxReport, step: Int32 = 0)
    -> Observation
  {
    guard let child = reports(.child).first(where: { $0.step == step }) else {
      return .broken("clone3 returned \(pid) but no process reported back")
    }
    guard let nspid = child.nspid, let own = nspid.last, own == child.pid else {
      return .broken(
        "the child's NSpid \(child.nspid.map(Observation.spell) ?? "?") does not end "
          + "with its getpid() \(child.pid)")
    }
    guard let levels = sandboxLevels(of: child, creator: call) else {
      return .broken("the child's NSpid \(Observation.spell(nspid)) is shorter than the sandbox")
    }
    let creatorIndex = levelsMade - 1
    guard creatorIndex >= 0, creatorIndex < levels.count, Int64(levels[creatorIndex]) == pid
    else {
      return .broken("clone3 returned \(pid) but the child's NSpid is \(Observation.spell(levels))")
    }
    guard let exit = reports(.childExit).first(where: { $0.step == step }), exit.value == 0
    else { return .broken("the child \(pid) did not exit cleanly") }
    return .succeeded(pid: Int32(pid), nspid: levels)
  }

  /// How many namespace levels the sandbox made (its deepest LEVEL_READY).
  public var levelsMade: Int {
    Int(reports(.levelReady).map(\.level).max() ?? 0)
  }

  /// `process`'s NSpid without the levels above the sandbox, so the result does not depend on
  /// where the suite runs: the entry for the sandbox's outermost level comes first.
  ///
  /// `creator` is a record from a process at the body's level, whose NSpid ends with one entry
  /// per sandbox level.
  public func sandboxLevels(of process: SandboxReport, creator: SandboxReport) -> [Int32]? {
    guard let nspid = process.nspid, let creatorNSpid = creator.nspid else { return nil }
    let levelsAbove = creatorNSpid.count - levelsMade
    guard levelsAbove >= 0, nspid.count >= levelsAbove else { return nil }
    return Array(nspid.dropFirst(levelsAbove))
  }
}
