import CKernelABI

/// `CLONE_*` flags, printed by their kernel names.
public struct CloneFlags: OptionSet, Hashable, Sendable, CustomStringConvertible {
  public let rawValue: UInt64

  public init(rawValue: UInt64) { self.rawValue = rawValue }

  /// Every flag this suite knows, by its uapi name; the values come from the C target.
  public static let named: [(name: String, flag: CloneFlags)] = [
    ("CLONE_NEWTIME", .init(rawValue: KABI_CLONE_NEWTIME)),
    ("CLONE_VM", .init(rawValue: KABI_CLONE_VM)),
    ("CLONE_FS", .init(rawValue: KABI_CLONE_FS)),
    ("CLONE_FILES", .init(rawValue: KABI_CLONE_FILES)),
    ("CLONE_SIGHAND", .init(rawValue: KABI_CLONE_SIGHAND)),
    ("CLONE_PIDFD", .init(rawValue: KABI_CLONE_PIDFD)),
    ("CLONE_PTRACE", .init(rawValue: KABI_CLONE_PTRACE)),
    ("CLONE_VFORK", .init(rawValue: KABI_CLONE_VFORK)),
    ("CLONE_PARENT", .init(rawValue: KABI_CLONE_PARENT)),
    ("CLONE_THREAD", .init(rawValue: KABI_CLONE_THREAD)),
    ("CLONE_NEWNS", .init(rawValue: KABI_CLONE_NEWNS)),
    ("CLONE_SYSVSEM", .init(rawValue: KABI_CLONE_SYSVSEM)),
    ("CLONE_SETTLS", .init(rawValue: KABI_CLONE_SETTLS)),
    ("CLONE_PARENT_SETTID", .init(rawValue: KABI_CLONE_PARENT_SETTID)),
    ("CLONE_CHILD_CLEARTID", .init(rawValue: KABI_CLONE_CHILD_CLEARTID)),
    ("CLONE_DETACHED", .init(rawValue: KABI_CLONE_DETACHED)),
    ("CLONE_UNTRACED", .init(rawValue: KABI_CLONE_UNTRACED)),
    ("CLONE_CHILD_SETTID", .init(rawValue: KABI_CLONE_CHILD_SETTID)),
    ("CLONE_NEWCGROUP", .init(rawValue: KABI_CLONE_NEWCGROUP)),
    ("CLONE_NEWUTS", .init(rawValue: KABI_CLONE_NEWUTS)),
    ("CLONE_NEWIPC", .init(rawValue: KABI_CLONE_NEWIPC)),
    ("CLONE_NEWUSER", .init(rawValue: KABI_CLONE_NEWUSER)),
    ("CLONE_NEWPID", .init(rawValue: KABI_CLONE_NEWPID)),
    ("CLONE_NEWNET", .init(rawValue: KABI_CLONE_NEWNET)),
    ("CLONE_IO", .init(rawValue: KABI_CLONE_IO)),
    ("CLONE_CLEAR_SIGHAND", .init(rawValue: KABI_CLONE_CLEAR_SIGHAND)),
    ("CLONE_INTO_CGROUP", .init(rawValue: KABI_CLONE_INTO_CGROUP)),
    ("CLONE_AUTOREAP", .init(rawValue: KABI_CLONE_AUTOREAP)),
    ("CLONE_NNP", .init(rawValue: KABI_CLONE_NNP)),
    ("CLONE_PIDFD_AUTOKILL", .init(rawValue: KABI_CLONE_PIDFD_AUTOKILL)),
    ("CLONE_EMPTY_MNTNS", .init(rawValue: KABI_CLONE_EMPTY_MNTNS)),
  ]

  /// The flag called `name`, or nil for a name this suite does not define; `0x…` names the
  /// bits of that value, as `names` prints bits without a name (a fixture's unknown flag bits).
  public init?(name: String) {
    if name.hasPrefix("0x"), let value = UInt64(name.dropFirst(2), radix: 16), value != 0 {
      self.init(rawValue: value)
      return
    }
    guard let entry = Self.named.first(where: { $0.name == name }) else { return nil }
    self = entry.flag
  }

  /// The kernel names of the set flags; unnamed bits in hex.
  public var names: [String] {
    var rest = rawValue
    var parts: [String] = []
    for (name, flag) in Self.named where rawValue & flag.rawValue != 0 {
      parts.append(name)
      rest &= ~flag.rawValue
    }
    if rest != 0 { parts.append("0x" + String(rest, radix: 16)) }
    return parts
  }

  /// `CLONE_NEWUSER|CLONE_NEWPID`; unnamed bits print in hex.
  public var description: String { names.isEmpty ? "0" : names.joined(separator: "|") }
}

/// Fixtures spell flags as a list of kernel names: `["CLONE_NEWPID"]`.
extension CloneFlags: Codable {
  /// Decodes the names; an unknown name is an error, never a flag silently left out of the
  /// call under test.
  public init(from decoder: any Decoder) throws {
    var flags = CloneFlags()
    for name in try decoder.singleValueContainer().decode([String].self) {
      guard let flag = CloneFlags(name: name) else {
        throw DecodingError.dataCorrupted(
          .init(codingPath: decoder.codingPath, debugDescription: "unknown clone flag \"\(name)\""))
      }
      flags.insert(flag)
    }
    self = flags
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(names)
  }
}

/// The published sizes of `struct clone_args`.
public enum CloneArgsLayout: Int, CaseIterable, Sendable {
  case ver0 = 64
  case ver1 = 80
  case ver2 = 88

  /// Byte offsets of the fields, from the C definition (`offsetof`), which pins them.
  public enum Offset {
    public static let flags = Int(KABI_CLONE_ARGS_OFFSET_FLAGS)
    public static let pidfd = Int(KABI_CLONE_ARGS_OFFSET_PIDFD)
    public static let parentTid = Int(KABI_CLONE_ARGS_OFFSET_PARENT_TID)
    public static let stack = Int(KABI_CLONE_ARGS_OFFSET_STACK)
    public static let stackSize = Int(KABI_CLONE_ARGS_OFFSET_STACK_SIZE)
    public static let exitSignal = Int(KABI_CLONE_ARGS_OFFSET_EXIT_SIGNAL)
    public static let setTid = Int(KABI_CLONE_ARGS_OFFSET_SET_TID)
    public static let setTidSize = Int(KABI_CLONE_ARGS_OFFSET_SET_TID_SIZE)
    public static let cgroup = Int(KABI_CLONE_ARGS_OFFSET_CGROUP)
  }
}
