import ConformanceSupport
import Testing

/// A procfs instance shows the PID namespace it was mounted from: its processes, and their
/// NSpid, NStgid, NSpgid and NSsid from that namespace's level down.
///
/// proc(5); fs/proc/root.c proc_fill_super(); fs/proc/base.c proc_pid_lookup(),
/// proc_pid_readdir(); fs/proc/array.c task_state().
@Suite(.tags(.procfs))
struct ProcfsViewsTests {
  @Test(arguments: try Fixtures.load("procfs-views.json").cases)
  func `each procfs shows the PIDs of the namespace it was mounted from`(
    _ row: ConformanceCase<ProgramCall>
  ) throws {
    try Conformance.check(row) { try row.call.observe() }
  }
}

extension Tag {
  @Tag static var procfs: Self
}
