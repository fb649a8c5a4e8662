import ConformanceSupport
import Testing

/// Whole process trees, restored the way CRIU restores them: each process made by its parent
/// with clone3 and a set_tid array, a namespace's init before its members, sessions and groups
/// set, then every process's NSpid, NStgid, NSpgid, NSsid and PPid (and every thread's NSpid
/// and NStgid) checked against the tree fixture, level by level.
///
/// Fixtures/trees/*.json; clone3(2); kernel/fork.c copy_process(); kernel/pid.c alloc_pid().
@Suite(.tags(.clone3, .setTid))
struct TreeRestoreTests {
  @Test(arguments: try Fixtures.load("tree-restore.json").cases)
  func `clone3 with set_tid restores a whole process tree exactly`(
    _ row: ConformanceCase<ProgramCall>
  ) throws {
    try Conformance.check(row) { try row.call.observe() }
  }
}
