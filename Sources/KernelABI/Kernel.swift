import Glibc

/// Facts about the running kernel and machine.
public enum RunningKernel {
  /// `uname -r`.
  public static let release: String = utsField(\.release)
  /// `uname -v`: the build, where Debian's older kernels name their stable version.
  public static let build: String = utsField(\.version)
  /// `uname -m`.
  public static let machine: String = utsField(\.machine)
  /// The page size of the running system, which bounds `struct clone_args`.
  public static let pageSize: Int = Int(sysconf(Int32(_SC_PAGESIZE)))

  private static func utsField<Field>(_ field: KeyPath<utsname, Field>) -> String {
    var names = utsname()
    guard uname(&names) == 0 else { return "unknown" }
    return withUnsafeBytes(of: names[keyPath: field]) { bytes in
      String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }
  }
}
