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

  /// The effective set as libcap prints it, such as `=ep cap_sys_resource-ep`.
  public static var text: String {
    guard let state = cap_get_proc() else { return "?" }
    defer { cap_free(UnsafeMutableRawPointer(state)) }
    guard let text = cap_to_text(state, nil) else { return "?" }
    defer { cap_free(UnsafeMutableRawPointer(text)) }
    return String(cString: text)
  }
}
