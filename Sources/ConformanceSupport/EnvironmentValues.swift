import Foundation
import Glibc
import KernelABI

/// Numbers of the suite's own environment that a table names instead of writing them: a NUMBER
/// argument `"$name"` is one of these, resolved when the program is compiled.
///
/// ```json
/// {"op": "write-fd", "args": {"fd": "@file", "value": 40000, "hostFile": "$hostPidMaxInode"}}
/// ```
public enum EnvironmentValues {
  /// The inode of `/proc/sys/kernel/pid_max` as the suite sees it, held open for the whole run
  /// so it keeps that inode: before 6.14 every PID namespace shares this file, so an operation
  /// that writes pid_max refuses a file with it and never changes the host's.
  public static let hostPidMaxInode = Result { () throws(Errno) -> Int64 in
    let fd = open("/proc/sys/kernel/pid_max", O_RDONLY | O_CLOEXEC)
    var status = stat()
    guard fd >= 0, fstat(fd, &status) == 0 else { throw Errno(rawValue: errno) }
    return Int64(bitPattern: UInt64(status.st_ino))  // the descriptor stays open
  }

  /// The inode of the suite's own PID namespace, whose sysctls no case may write.
  public static let suitePidNsInode = Result { () throws(Errno) -> Int64 in
    var status = stat()
    guard stat("/proc/self/ns/pid", &status) == 0 else { throw Errno(rawValue: errno) }
    return Int64(bitPattern: UInt64(status.st_ino))
  }

  static let values: [String: (path: String, value: Result<Int64, Errno>)] = [
    "$hostPidMaxInode": ("/proc/sys/kernel/pid_max", hostPidMaxInode),
    "$suitePidNsInode": ("/proc/self/ns/pid", suitePidNsInode),
  ]

  /// The value of `name` (`$hostPidMaxInode`); an unknown name, or one the suite cannot read,
  /// is an error that names it.
  static func number(_ name: String) throws(ProgramError) -> Int64 {
    guard let entry = values[name] else {
      throw ProgramError("no environment value \(name) (known: \(values.keys.sorted()))")
    }
    switch entry.value {
    case .success(let number): return number
    case .failure(let error): throw ProgramError("\(name): cannot stat \(entry.path): \(error)")
    }
  }
}
