import ConformanceSupport
import Testing

/// `/proc/sys/kernel/ns_last_pid` reads and moves the allocation cursor of the writer's active
/// PID namespace, for a writer with CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE over its owner; only
/// ever used inside the case's own PID namespace.
///
/// proc(5); kernel/pid_namespace.c pid_ns_ctl_handler().
@Suite(.tags(.setTid))
struct NsLastPidTests {
  @Test(arguments: try Fixtures.load("ns-last-pid.json").cases)
  func `ns_last_pid acts on the writer's active PID namespace only`(
    _ row: ConformanceCase<ProgramCall>
  ) throws {
    try Conformance.check(row) { try row.call.observe() }
  }
}
