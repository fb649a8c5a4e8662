import Foundation
import Glibc
import KernelABI

/// The suite's own cgroup on the cgroup2 hierarchy, for CLONE_INTO_CGROUP cases that need no
/// cgroup of their own: found through `/proc/self/mountinfo` (the cgroup2 mount) and the `0::`
/// line of `/proc/self/cgroup`. Nothing is created or written.
public enum OwnCgroup {
  /// The mount point of the first cgroup2 filesystem in `mountinfo`, or nil.
  public static func mountPoint(mountinfo: String) -> String? {
    for line in mountinfo.split(separator: "\n") {
      let halves = line.components(separatedBy: " - ")
      guard halves.count == 2, halves[1].split(separator: " ").first == "cgroup2" else {
        continue
      }
      let fields = halves[0].split(separator: " ")
      guard fields.count >= 5 else { continue }
      return unescape(String(fields[4]))
    }
    return nil
  }

  /// The path of the `0::` line of `/proc/self/cgroup` (the cgroup2 hierarchy), or nil.
  public static func path(cgroup: String) -> String? {
    cgroup.split(separator: "\n").first { $0.hasPrefix("0::") }.map { String($0.dropFirst(3)) }
  }

  /// mountinfo escapes space, tab, newline and backslash as `\ooo`.
  public static func unescape(_ field: String) -> String {
    var bytes: [UInt8] = []
    var rest = Substring(field).utf8[...]
    while let byte = rest.first {
      let octal = rest.dropFirst().prefix(3)
      if byte == UInt8(ascii: "\\"), octal.count == 3,
        let value = UInt8(String(decoding: octal, as: UTF8.self), radix: 8)
      {
        bytes.append(value)
        rest = rest.dropFirst(4)
      } else {
        bytes.append(byte)
        rest = rest.dropFirst()
      }
    }
    return String(decoding: bytes, as: UTF8.self)
  }

  /// The suite's own cgroup2 directory, opened read-only; SKIP without cgroup2, or where the
  /// suite may write its `cgroup.procs` (then CLONE_INTO_CGROUP has no EACCES to give).
  static func openUnwritable() throws -> Int32 {
    guard let mountinfo = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8),
      let mount = mountPoint(mountinfo: mountinfo)
    else { throw CaseSkip(.environment, "no cgroup2 filesystem in /proc/self/mountinfo") }
    guard let cgroup = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8),
      let own = path(cgroup: cgroup)
    else { throw CaseSkip(.environment, "/proc/self/cgroup has no cgroup2 (0::) line") }
    let directory = own == "/" ? mount : mount + own
    if access(directory + "/cgroup.procs", W_OK) == 0 {
      throw CaseSkip(
        .environment,
        "the suite may write \(directory)/cgroup.procs, so CLONE_INTO_CGROUP into it gives no "
          + "EACCES here (an unprivileged run sees it)")
    }
    let denied = Errno(rawValue: errno)
    guard denied == .EACCES else {
      throw CaseBroken(step: "access \(directory)/cgroup.procs for writing", errno: denied)
    }
    let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else {
      throw CaseBroken(step: "open the suite's cgroup \(directory)", errno: Errno(rawValue: errno))
    }
    return fd
  }
}
