import CKernelABI
import Glibc
import KernelABI

/// A `struct clone_args` as a table writes it: its fields by name, its size, and where its
/// bytes (and its `set_tid` array) sit in memory. One builder for every step that takes one
/// (`clone3`, `blocker`).
///
/// ```json
/// {"flags": ["CLONE_NEWPID"], "set_tid": [1, "pid_max-1"], "exit_signal": 0, "size": 88}
/// ```
public struct CloneArgsSpec: Decodable, Hashable, Sendable {
  public var flags: CloneFlags?
  /// `exit_signal`; SIGCHLD when absent, unless CLONE_PARENT or CLONE_THREAD (then 0).
  public var exitSignal: UInt64?
  /// PIDs for `set_tid`, innermost level first (a number or `pid_max±n`).
  public var setTid: [TidValue]?
  /// `set_tid_size`; the count of `setTid` when absent.
  public var setTidSize: UInt64?
  /// Where `set_tid` points; inline when it is given, else NULL.
  public var setTidAt: TidPlacement?
  public var cgroup: UInt64?
  /// `pidfd`, `parent_tid` and `stack`: an address, or the suite's own writable scratch words.
  public var pidfd: ArgsAddress?
  public var parentTid: ArgsAddress?
  public var stack: ArgsAddress?
  /// `stack_size`: a number, or `0x…` for one too large for JSON's exact integers.
  public var stackSize: ArgsAddress?
  /// The `size` argument; VER2 (88) when absent.
  public var size: ByteCount?
  /// Offsets (into the bytes passed) set to 0x01.
  public var nonZeroBytesAt: [ByteCount]?
  /// Fill every byte from `size` to the end of the buffer with 0xff: a kernel that reads past
  /// `size` instead of zero-filling would see a huge set_tid_size (EINVAL) or a non-zero tail
  /// (E2BIG).
  public var poisonAfterSize: Bool?
  public var placement: ArgsPlacement?
  /// For `straddlesGuardPage`: how many bytes are readable.
  public var readableBytes: Int?

  /// The struct's own fields go by their kernel names; the rest say where the bytes sit.
  enum CodingKeys: String, CodingKey, CaseIterable {
    case flags, cgroup, size, nonZeroBytesAt, poisonAfterSize, placement, readableBytes
    case pidfd, stack
    case parentTid = "parent_tid"
    case stackSize = "stack_size"
    case exitSignal = "exit_signal"
    case setTid = "set_tid"
    case setTidSize = "set_tid_size"
    case setTidAt = "set_tid_at"
  }

  /// Throws for a field `struct clone_args` does not have, `what` naming the argument: a
  /// misspelt field is an error, never a setting silently left out.
  static func rejectUnknownFields(in args: Argument, what: String) throws(ProgramError) {
    let fields = CodingKeys.allCases.map(\.rawValue)
    if case .object(let given) = args,
      let field = given.keys.sorted().first(where: { !fields.contains($0) })
    {
      throw ProgramError(
        "\(what): clone_args has no field \"\(field)\" (fields: \(fields.joined(separator: ", ")))")
    }
  }

  /// Where `set_tid` points.
  public enum TidPlacement: String, Decodable, Sendable {
    case inline, null, inaccessible
    /// `set_tid[0]` is readable, `set_tid[1]` lies in an inaccessible page.
    case straddlesGuardPage
  }

  /// The PIDs `set_tid` asks for, when it asks inline in a struct that has the field (VER1 and
  /// later): the child must show them.
  public var requestedPids: [TidValue]? {
    guard let setTid, !setTid.isEmpty, (setTidAt ?? .inline) == .inline, setTidSize == nil,
      resolvedSize >= CloneArgsLayout.ver1.rawValue
    else { return nil }
    return setTid
  }

  /// The bytes in memory, with the size to pass and the mask of pid_max-relative PIDs.
  func build() throws(ProgramError) -> BuiltCloneArgs {
    let size = try validSize()
    do {
      return try BuiltCloneArgs(self, size: size)
    } catch {
      throw ProgramError("clone_args: cannot map its memory: \(error)")
    }
  }

  /// The largest `size` the suite passes: 1 MiB, above any page size.
  static let largestSize = 1 << 20

  /// The `size` argument on the running system.
  var resolvedSize: Int { size?.resolved ?? CloneArgsLayout.ver2.rawValue }

  /// The size to pass, once the struct is one the suite can pass safely.
  func validSize() throws(ProgramError) -> Int {
    let size = resolvedSize
    // The suite maps max(size, 88) + 8 bytes for the struct (an Int.max size trapped in that
    // sum); the kernel refuses any size above PAGE_SIZE alike (E2BIG).
    guard (0...Self.largestSize).contains(size) else {
      throw ProgramError("clone_args size \(size) is not 0 to \(Self.largestSize)")
    }
    // `build()` writes these bytes: a negative offset or readable count trapped the test
    // process there, and a byte past the ones passed was left out without a word.
    if let offset = nonZeroBytesAt?.map(\.resolved).first(where: { !(0..<size).contains($0) }) {
      throw ProgramError(
        "clone_args nonZeroBytesAt \(offset) is not one of the \(size) bytes passed")
    }
    if let readable = readableBytes {
      guard placement == .straddlesGuardPage else {
        throw ProgramError("clone_args readableBytes needs the placement straddlesGuardPage")
      }
      guard (0...size).contains(readable) else {
        throw ProgramError(
          "clone_args readableBytes \(readable) is not 0 to the \(size) bytes passed")
      }
    }
    // Every step that takes a clone_args makes a fork-like child, which has no stack of its
    // own: flags that make it share the caller's memory or stack, or set its TLS, would run it
    // on the body's stack. CLONE_THREAD without CLONE_VM is allowed: the kernel refuses it
    // before any child exists (copy_process(): CLONE_THREAD needs CLONE_SIGHAND, which needs
    // CLONE_VM), and a kernel that wrongly made one would give it a copy of the memory.
    let vm = CloneFlags(rawValue: KABI_CLONE_VM)
    let thread = CloneFlags(rawValue: KABI_CLONE_THREAD)
    var offending = (flags ?? []).intersection([
      vm, thread, .init(rawValue: KABI_CLONE_SETTLS), .init(rawValue: KABI_CLONE_VFORK),
    ])
    if !offending.contains(vm) { offending.remove(thread) }
    guard offending.isEmpty else {
      throw ProgramError(
        "\(offending) needs a stack for the child, which this call type does not give it")
    }
    return size
  }
}

/// A `struct clone_args` and its `set_tid` array in memory that sandbox processes read.
final class BuiltCloneArgs {
  private(set) var address: Int64 = 0
  let size: Int
  let pidMaxRelative: Int64
  private let memory: GuardedMemory
  /// The inline set_tid array; a page of its own only where set_tid straddles a guard page.
  private let tids: CArray<Int32>
  private var straddling: GuardedMemory?
  /// The words `scratch+N` names: where the kernel may write a pidfd or a TID.
  private let scratch = CArray<UInt64>(count: ArgsAddress.scratchBytes / 8)

  init(_ spec: CloneArgsSpec, size: Int) throws(Errno) {
    self.size = size
    let bufferBytes = max(size, CloneArgsLayout.ver2.rawValue) + 8
    memory = try GuardedMemory(capacity: bufferBytes)
    let pids = (spec.setTid ?? []).map(\.number)
    tids = CArray(pids, count: Int(KABI_MAX_PID_NS_LEVEL) + 1)
    pidMaxRelative = (spec.setTid ?? []).enumerated().filter(\.element.relativeToPidMax)
      .reduce(0) { $0 | 1 << Int64($1.offset) }
    let setTid: UInt64
    switch spec.setTidAt ?? (spec.setTid == nil ? .null : .inline) {
    case .null: setTid = 0
    case .inaccessible: setTid = UInt64(UInt(bitPattern: memory.guardAddress))
    case .straddlesGuardPage:
      let straddling = try GuardedMemory(capacity: 4)
      let readable = straddling.bytesEndingAtGuard(MemoryLayout<Int32>.size)
      readable.storeBytes(of: pids.first ?? 1, as: Int32.self)
      self.straddling = straddling
      setTid = UInt64(UInt(bitPattern: readable.baseAddress))
    case .inline: setTid = pids.isEmpty ? 0 : UInt64(bitPattern: tids.address)
    }
    let base = UInt64(bitPattern: scratch.address)
    let flags = spec.flags?.rawValue ?? 0
    let parentOrThread = UInt64(KABI_CLONE_PARENT) | UInt64(KABI_CLONE_THREAD)
    let exitSignal = spec.exitSignal ?? (flags & parentOrThread != 0 ? 0 : UInt64(SIGCHLD))
    // The fields in the struct's order; nil leaves one zero.
    let words: [(offset: Int, value: UInt64?)] = [
      (CloneArgsLayout.Offset.flags, flags),
      (CloneArgsLayout.Offset.exitSignal, exitSignal),
      (CloneArgsLayout.Offset.setTid, setTid == 0 ? nil : setTid),
      (CloneArgsLayout.Offset.setTidSize, spec.setTidSize ?? spec.setTid.map { UInt64($0.count) }),
      (CloneArgsLayout.Offset.cgroup, spec.cgroup),
      (CloneArgsLayout.Offset.pidfd, spec.pidfd?.value(scratch: base)),
      (CloneArgsLayout.Offset.parentTid, spec.parentTid?.value(scratch: base)),
      (CloneArgsLayout.Offset.stack, spec.stack?.value(scratch: base)),
      (CloneArgsLayout.Offset.stackSize, spec.stackSize?.value(scratch: base)),
    ]

    let bytes: UnsafeMutableRawBufferPointer
    switch spec.placement ?? .normal {
    case .normal: bytes = memory.bytesEndingAtGuard(bufferBytes)
    case .endsAtGuardPage: bytes = memory.bytesEndingAtGuard(size)
    case .straddlesGuardPage: bytes = memory.bytesEndingAtGuard(spec.readableBytes ?? 0)
    case .inaccessible:
      address = Int64(Int(bitPattern: memory.guardAddress))
      return
    case .null: return
    }
    address = Int64(Int(bitPattern: bytes.baseAddress))
    // The fields that fit into the readable bytes.
    for (offset, value) in words where offset + 8 <= bytes.count {
      if let value { bytes.storeBytes(of: value, toByteOffset: offset, as: UInt64.self) }
    }
    for offset in spec.nonZeroBytesAt ?? [] where offset.resolved < bytes.count {
      bytes[offset.resolved] = 0x01
    }
    if spec.poisonAfterSize == true, size < bytes.count {
      for index in size..<bytes.count { bytes[index] = 0xff }
    }
  }
}

/// A byte count or offset in a fixture: a number, or `PAGE_SIZE`, `PAGE_SIZE+1`, `PAGE_SIZE-1`.
///
/// Resolved against the running system's page size, never a constant.
public struct ByteCount: Decodable, Hashable, Sendable {
  /// The number of bytes on the running system.
  public var resolved: Int

  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    switch try container.decodeNumberOrWord(Int.self) {
    case .number(let number): resolved = number
    case .word(let word):
      let text = word.replacingOccurrences(of: " ", with: "")
      if let number = Int(text) {
        resolved = number
      } else if let offset = text.offset(after: "PAGE_SIZE"),
        case (let sum, let overflow) = RunningKernel.pageSize.addingReportingOverflow(offset),
        !overflow
      {
        resolved = sum
      } else {
        throw DecodingError.dataCorruptedError(
          in: container,
          debugDescription: "not a byte count: \"\(text)\" (a number, PAGE_SIZE or PAGE_SIZE±n)")
      }
    }
  }
}

extension String {
  /// `n` of a fixture word `word`, `word+n` or `word-n` (0 for `word` alone), or nil (also
  /// for `word2` or `word++2`): a value relative to one the suite finds where it runs
  /// (`PAGE_SIZE+1`, `scratch+8`, `pid_max-1`, `level+2`).
  func offset(after word: String) -> Int? {
    guard hasPrefix(word) else { return nil }
    let rest = dropFirst(word.count)
    guard let sign = rest.first else { return 0 }
    return sign == "+" || sign == "-" ? Int(rest) : nil
  }
}

/// A word of `struct clone_args` that holds an address (or a size): a number, `0x…`, or
/// `scratch` / `scratch+N`, a zeroed, writable word the suite owns for the call, so that a kernel
/// that writes a pidfd or TID there writes into memory of the suite's choosing. The same word
/// in two fields is the same address.
public enum ArgsAddress: Decodable, Hashable, Sendable {
  case value(UInt64)
  case scratch(offset: Int)

  /// The scratch words' bytes: `scratch+0` to `scratch+24`.
  static let scratchBytes = 32

  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    switch try container.decodeNumberOrWord(UInt64.self) {
    case .number(let number): self = .value(number)
    case .word(let text):
      if text.hasPrefix("0x"), let number = UInt64(text.dropFirst(2), radix: 16) {
        self = .value(number)
      } else if let offset = text.offset(after: "scratch"), offset >= 0, offset % 8 == 0,
        offset + 8 <= Self.scratchBytes
      {
        self = .scratch(offset: offset)
      } else {
        throw DecodingError.dataCorruptedError(
          in: container,
          debugDescription:
            "not an address: \"\(text)\" (a number, 0x…, scratch or scratch+N, N a multiple of 8 below \(Self.scratchBytes))"
        )
      }
    }
  }

  func value(scratch base: UInt64) -> UInt64 {
    switch self {
    case .value(let number): number
    case .scratch(let offset): base + UInt64(offset)
    }
  }
}

/// Where a `struct clone_args` sits in memory for a call.
public enum ArgsPlacement: String, Decodable, Sendable {
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
