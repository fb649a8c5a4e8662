import ConformanceSupport
import Testing

/// Since 6.14 every PID namespace has its own kernel.pid_max, and each level enforces its own
/// limit on automatic PIDs and on set_tid.
///
/// proc(5); kernel/pid.c pid_table, alloc_pid(); kernel/pid_namespace.c create_pid_namespace().
@Suite(.tags(.setTid))
struct PidMaxTests {
  @Test(arguments: try Fixtures.load("pid-max.json").cases)
  func `pid_max is per PID namespace and bounds each level`(_ row: ConformanceCase<ProgramCall>)
    throws
  {
    try Conformance.check(row) { try row.call.observe() }
  }
}
