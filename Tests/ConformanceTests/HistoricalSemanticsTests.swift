import ConformanceSupport
import Testing

/// The designs that preceded set_tid gave 0, a taken PID and the array order other meanings;
/// the merged ABI must not show them: clone_with_pids (seed 001, 2009: 0 picks, EBUSY, oldest
/// first) and the set_tid v4 review (seed 002, 2019: EEXIST, PID 1 first).
///
/// kernel/pid.c alloc_pid(); kernel/fork.c copy_clone_args_from_user().
@Suite(.tags(.clone3, .setTid))
struct HistoricalSemanticsTests {
  @Test(arguments: try Fixtures.load("set-tid-historical.json").cases)
  func `set_tid has the merged semantics, not those of the designs before it`(
    _ row: ConformanceCase<ProgramCall>
  ) throws {
    try Conformance.check(row) { try row.call.observe() }
  }

  @Test(arguments: try Fixtures.load("set-tid-historical-layout.json").cases)
  func `seed 002: the 72-byte struct with a single set_tid never shipped`(
    _ row: ConformanceCase<ProgramCall>
  ) throws {
    try Conformance.check(row) { try row.call.observe() }
  }
}
