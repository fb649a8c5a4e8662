import CLibcap
import Glibc

/// Capabilities of the calling thread, read through libcap.
public enum Capabilities {
  /// Whether `capability` (such as `CAP_SYS_ADMIN`) is in the calling thread's effective set.
  public static func effective(_ capability: Int32) -> Bool {
    guard let state = cap_get_proc() else { return false }
    defer { cap_free(UnsafeMutableRawPointer(state)) }
    var value = cap_flag_value_t(rawValue: 0)
    guard cap_get_flag(state, cap_value_t(capability), CAP_EFFECTIVE, &value) == 0 else {
      return false
    }
    return value == CAP_SET
  }

  /// Whether the calling process sits in the initial user namespace: `/proc/self/ns/user` is
  /// PROC_USER_INIT_INO (0xEFFFFFFD, fixed since 3.8). Root in any other user namespace holds
  /// its capabilities only there and below.
  public static var inInitialUserNamespace: Bool {
    var status = stat()
    return stat("/proc/self/ns/user", &status) == 0 && UInt64(status.st_ino) == 0xEFFF_FFFD
  }

  /// The effective set as libcap prints it, such as `=ep cap_sys_resource-ep`.
  public static var text: String {
    guard let state = cap_get_proc() else { return "?" }
    defer { cap_free(UnsafeMutableRawPointer(state)) }
    guard let text = cap_to_text(state, nil) else { return "?" }
    defer { cap_free(UnsafeMutableRawPointer(text)) }
    return String(cString: text)
  }
}

/// A thread's capability sets as the kernel's v3 capget/capset carry them: bit n is capability
/// n, the low 32 bits in the first `struct __user_cap_data_struct`, the high in the second.
public struct CapabilitySets: Hashable, Sendable, CustomStringConvertible {
  public var effective: UInt64
  public var permitted: UInt64
  public var inheritable: UInt64
  /// Capabilities raised with PR_CAP_AMBIENT_RAISE; libcap's text has no ambient part.
  public var ambient: UInt64

  public init(effective: UInt64, permitted: UInt64, inheritable: UInt64, ambient: UInt64 = 0) {
    self.effective = effective
    self.permitted = permitted
    self.inheritable = inheritable
    self.ambient = ambient
  }

  /// Parses libcap's text form (`cap_checkpoint_restore=ep`, `cap_sys_admin=p`, `=`) with
  /// `cap_from_text`, and `ambient` capability names with `cap_from_name`, in the test process:
  /// libcap allocates, so it never runs in a sandbox.
  public init(text: String, ambient: [String] = []) throws(CapabilityTextError) {
    guard let state = cap_from_text(text) else {
      throw CapabilityTextError(text: text, reason: "cap_from_text refused it")
    }
    defer { cap_free(UnsafeMutableRawPointer(state)) }
    var sets: [UInt64] = []
    for flag in [CAP_EFFECTIVE, CAP_PERMITTED, CAP_INHERITABLE] {
      var bits: UInt64 = 0
      for capability in 0..<64 {
        var value = cap_flag_value_t(rawValue: 0)
        if cap_get_flag(state, cap_value_t(capability), flag, &value) == 0, value == CAP_SET {
          bits |= 1 << UInt64(capability)
        }
      }
      sets.append(bits)
    }
    var ambientBits: UInt64 = 0
    for name in ambient {
      var value: cap_value_t = 0
      guard cap_from_name(name, &value) == 0, (0..<64).contains(value) else {
        throw CapabilityTextError(text: name, reason: "cap_from_name does not know it")
      }
      ambientBits |= 1 << UInt64(value)
    }
    self.init(effective: sets[0], permitted: sets[1], inheritable: sets[2], ambient: ambientBits)
  }

  /// The capabilities the running kernel knows (libcap's `cap_max_bits()`, from the kernel):
  /// capset drops the others, so a set can only be compared after the same cut.
  public var knownToKernel: Self {
    let bits = UInt64(max(0, min(64, cap_max_bits())))
    let mask: UInt64 = bits >= 64 ? .max : (1 << bits) - 1
    return Self(
      effective: effective & mask, permitted: permitted & mask, inheritable: inheritable & mask,
      ambient: ambient & mask)
  }

  /// `e 0x10000000000 p 0x10000000000 i 0x0 a 0x0`.
  public var description: String {
    [("e", effective), ("p", permitted), ("i", inheritable), ("a", ambient)]
      .map { "\($0.0) 0x\(String($0.1, radix: 16))" }.joined(separator: " ")
  }
}

/// Capability text libcap could not parse.
public struct CapabilityTextError: Error, CustomStringConvertible {
  public var text: String
  public var reason: String

  public var description: String { "capability text \"\(text)\": \(reason)" }
}
