// swift-format-ignore-file: AlwaysUseLowerCamelCase

import CKernelABI
import Glibc

/// An errno value that prints as the kernel's name, number and message.
///
/// Names come from the C target, which is compiled against the target's own `<errno.h>`, so the
/// numbers are right on every architecture. An unknown value stays representable.
public struct Errno: RawRepresentable, Error, Hashable, Codable, Sendable {
  public let rawValue: Int32

  public init(rawValue: Int32) { self.rawValue = rawValue }

  /// The errno called `name` ("EINVAL"), or nil for a name this build does not know.
  public init?(name: String) {
    let value = kabi_errno_value(name)
    guard value != 0 else { return nil }
    self.rawValue = value
  }

  /// The symbolic name, such as `EINVAL`; `E?135` for a value without one.
  public var name: String {
    kabi_errno_name(rawValue).map { String(cString: $0) } ?? "E?\(rawValue)"
  }

  /// The C library's message for the value.
  public var message: String { String(cString: strerror(rawValue)) }

  public static let EPERM = Errno(rawValue: Glibc.EPERM)
  public static let ENOENT = Errno(rawValue: Glibc.ENOENT)
  public static let ESRCH = Errno(rawValue: Glibc.ESRCH)
  public static let EINTR = Errno(rawValue: Glibc.EINTR)
  public static let E2BIG = Errno(rawValue: Glibc.E2BIG)
  public static let EBADF = Errno(rawValue: Glibc.EBADF)
  public static let ECHILD = Errno(rawValue: Glibc.ECHILD)
  public static let EAGAIN = Errno(rawValue: Glibc.EAGAIN)
  public static let ENOMEM = Errno(rawValue: Glibc.ENOMEM)
  public static let EACCES = Errno(rawValue: Glibc.EACCES)
  public static let EFAULT = Errno(rawValue: Glibc.EFAULT)
  public static let EBUSY = Errno(rawValue: Glibc.EBUSY)
  public static let EEXIST = Errno(rawValue: Glibc.EEXIST)
  public static let EINVAL = Errno(rawValue: Glibc.EINVAL)
  public static let ENOTTY = Errno(rawValue: Glibc.ENOTTY)
  public static let ENOSPC = Errno(rawValue: Glibc.ENOSPC)
  public static let EROFS = Errno(rawValue: Glibc.EROFS)
  public static let ENOSYS = Errno(rawValue: Glibc.ENOSYS)
  public static let EREMOTE = Errno(rawValue: Glibc.EREMOTE)
  public static let ETIMEDOUT = Errno(rawValue: Glibc.ETIMEDOUT)
}

extension Errno: CustomStringConvertible {
  /// `EINVAL (22): Invalid argument`.
  public var description: String { "\(name) (\(rawValue)): \(message)" }
}

extension Errno {
  /// Turns a C wrapper's `-errno` convention into a throw; returns the non-negative result.
  @discardableResult
  public static func check<Value: SignedInteger>(_ result: Value) throws(Errno) -> Value {
    guard result >= 0 else { throw Errno(rawValue: Int32(truncatingIfNeeded: 0 - result)) }
    return result
  }
}
