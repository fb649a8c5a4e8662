import ConformanceSupport
import Testing

/// The designs that preceded set_tid gave 0, a taken PID and the array order other meanings;
/// the merged ABI must not show them.
///
/// Seeds 001 (clone_with_pids, 2009) and 002 (set_tid v4 review, 2019); kernel/pid.c
/// alloc_pid(); kernel/fork.c copy_clone_args_from_user().
@Suite(.tags(.clone3, .setTid))
struct HistoricalSemanticsTests {
  static let rows = try? Fixtures.load("set-tid-historical.json", as: SetTidCall.self).cases

  @Test(arguments: (rows ?? []).filter { $0.id.contains(".seed-001.") })
  func `seed 001: clone_with_pids semantics (0 picks, EBUSY, oldest first) are absent`(
    _ row: ConformanceCase<SetTidCall>
  ) throws {
    try Conformance.check(row) { try row.call.observe() }
  }

  @Test(arguments: (rows ?? []).filter { $0.id.contains(".seed-002.") })
  func `seed 002: set_tid v4 review semantics (EEXIST, PID 1 first) are the merged ones`(
    _ row: ConformanceCase<SetTidCall>
  ) throws {
    try Conformance.check(row) { try row.call.observe() }
  }

  @Test(arguments: try Fixtures.load("set-tid-historical-layout.json", as: Clone3Call.self).cases)
  func `seed 002: the 72-byte struct with a single set_tid never shipped`(
    _ row: ConformanceCase<Clone3Call>
  ) throws {
    try Conformance.check(row) { try row.call.observe() }
  }
}
