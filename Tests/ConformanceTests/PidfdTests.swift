import ConformanceSupport
import Testing

/// pidfds: pidfd_open's flags and targets, pidfd_send_signal's flags, siginfo and namespace
/// rules, waitid(P_PIDFD), and PIDFD_GET_INFO at each struct size, each proved by what the
/// pidfd names (its fdinfo) or what happened to the process it names.
///
/// pidfd_open(2), pidfd_send_signal(2), waitid(2), PIDFD_GET_INFO; kernel/pid.c pidfd_open(),
/// kernel/fork.c pidfd_prepare(), kernel/signal.c pidfd_send_signal(), kernel/exit.c
/// kernel_waitid(), fs/pidfs.c pidfd_info().
@Suite(.tags(.pidfd))
struct PidfdTests {
  @Test(arguments: try Fixtures.load("pidfd.json").cases)
  func `pidfds answer as their kernel functions say`(_ row: ConformanceCase<ProgramCall>) throws {
    try Conformance.check(row) { try row.call.observe() }
  }
}

extension Tag {
  /// Cases about pidfds: pidfd_open, pidfd_send_signal, waitid(P_PIDFD), pidfs ioctls.
  @Tag static var pidfd: Self
}
