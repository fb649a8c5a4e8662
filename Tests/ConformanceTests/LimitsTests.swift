import ConformanceSupport
import Foundation
import Testing

/// Limits end process and namespace creation with an errno: the counts of user and PID
/// namespaces each user namespace allows, the depth of user namespaces, RLIMIT_NPROC.
///
/// user_namespaces(7), setrlimit(2); kernel/ucount.c inc_ucount(); kernel/user_namespace.c
/// create_user_ns(); kernel/pid_namespace.c create_pid_namespace(); kernel/fork.c
/// copy_process().
@Suite(.tags(.limits))
struct LimitsTests {
  @Test(arguments: try Fixtures.load("limits.json").cases)
  func `each limit ends creation with its errno`(_ row: ConformanceCase<ProgramCall>) throws {
    try Conformance.check(row) {
      if let user = Self.rlimitUser(of: row.id), let unmet = Self.unmet(user) {
        throw CaseSkip(.privilege, unmet)
      }
      return try row.call.observe()
    }
  }

  /// Whose processes an RLIMIT_NPROC row is about: the initial namespace's root, or another
  /// user; nil for other rows.
  static func rlimitUser(of id: String) -> Bool? {
    guard id.hasPrefix("limits.rlimit-nproc.") else { return nil }
    return id.hasSuffix(".initial-root")
  }

  /// Why this run's processes are not of the user the row is about, or nil. The sandbox's
  /// processes keep the test process's user of the initial namespace, which copy_process()
  /// exempts from RLIMIT_NPROC when it is root (INIT_USER). Below the initial user namespace
  /// that user is not visible, so the rows skip there.
  static func unmet(_ initialRoot: Bool) -> String? {
    let map: String
    do {
      map = try String(contentsOfFile: "/proc/self/uid_map", encoding: .utf8)
    } catch {
      return "needs this run's user in the initial user namespace (RLIMIT_NPROC does not bind "
        + "its root), and /proc/self/uid_map cannot be read: \(error)"
    }
    guard
      map.split(separator: "\n").map({ $0.split(separator: " ") }) == [["0", "0", "4294967295"]]
    else {
      return "needs to know this run's user in the initial user namespace (RLIMIT_NPROC does not "
        + "bind its root): the suite runs in a user namespace below it"
    }
    switch (initialRoot, getuid() == 0) {
    case (true, false):
      return
        "about the initial namespace's root, which RLIMIT_NPROC does not bind; this run is uid "
        + "\(getuid())"
    case (false, true):
      return "about users other than the initial namespace's root, which RLIMIT_NPROC does not "
        + "bind (copy_process(): INIT_USER); this run is root"
    default: return nil
    }
  }
}

extension Tag {
  /// Cases about limits on process and namespace creation.
  @Tag static var limits: Self
}
