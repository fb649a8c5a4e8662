import Glibc

/// A file the tool could not read or write, spelled as a user can act on it:
/// `results/x.jsonl: EISDIR (21): Is a directory`.
///
/// Foundation's errors print as `NSCocoaErrorDomain error 256` on Linux, which names neither the
/// file nor the cause, so every file access of the tool goes through the system calls.
public struct FileError: Error, Equatable, CustomStringConvertible {
  /// The path as the user gave it.
  public var path: String
  /// The errno the system call failed with.
  public var code: Int32

  /// Creates an error for a path and an errno.
  public init(path: String, code: Int32) {
    self.path = path
    self.code = code
  }

  /// `path: NAME (number): message`.
  public var description: String {
    "\(path): \(errnoName(code)) (\(code)): \(String(cString: strerror(code)))"
  }
}

/// The errno's symbolic name, for the errors a file access can meet; `errno N` otherwise.
func errnoName(_ code: Int32) -> String {
  let names: [Int32: String] = [
    EPERM: "EPERM", ENOENT: "ENOENT", EIO: "EIO", EBADF: "EBADF", ENOMEM: "ENOMEM",
    EACCES: "EACCES", EFAULT: "EFAULT", EBUSY: "EBUSY", EEXIST: "EEXIST", EXDEV: "EXDEV",
    ENODEV: "ENODEV", ENOTDIR: "ENOTDIR", EISDIR: "EISDIR", EINVAL: "EINVAL", ENFILE: "ENFILE",
    EMFILE: "EMFILE", ETXTBSY: "ETXTBSY", EFBIG: "EFBIG", ENOSPC: "ENOSPC", EROFS: "EROFS",
    ELOOP: "ELOOP", ENAMETOOLONG: "ENAMETOOLONG", EDQUOT: "EDQUOT", ENXIO: "ENXIO",
  ]
  return names[code] ?? "errno \(code)"
}

/// Reads and writes whole files with the system calls, so that failures keep their errno.
public enum FileAccess {
  /// The file's bytes.
  public static func read(_ path: String) throws(FileError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw FileError(path: path, code: errno) }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
      let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
      if count == 0 { return bytes }
      if count < 0 {
        if errno == EINTR { continue }
        throw FileError(path: path, code: errno)
      }
      bytes += chunk[..<count]
    }
  }

  /// Replaces the file's contents with `text`.
  static func write(_ text: String, to path: String) throws(FileError) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw FileError(path: path, code: errno) }
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
      let count = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
      if count < 0 {
        if errno == EINTR { continue }
        let code = errno
        close(fd)
        throw FileError(path: path, code: code)
      }
      bytes = bytes.dropFirst(count)
    }
    // A full disk or quota can show only at close on some filesystems.
    guard close(fd) == 0 else { throw FileError(path: path, code: errno) }
  }

  /// Creates the directory and any missing parent, like `mkdir -p`.
  static func makeDirectories(_ path: String) throws(FileError) {
    var prefix = path.hasPrefix("/") ? "/" : ""
    for component in path.split(separator: "/") {
      prefix += component
      if mkdir(prefix, 0o755) != 0 {
        let code = errno
        var status = stat()
        guard code == EEXIST || code == EACCES || code == EROFS, stat(prefix, &status) == 0 else {
          throw FileError(path: prefix, code: code)
        }
        guard status.st_mode & S_IFMT == S_IFDIR else {
          throw FileError(path: prefix, code: ENOTDIR)
        }
      }
      prefix += "/"
    }
  }
}
