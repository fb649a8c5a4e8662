import ConformanceSupport
import Testing

/// CLONE_INTO_CGROUP's `cgroup` descriptor: above INT_MAX, closed, no cgroup directory, or a
/// cgroup whose `cgroup.procs` the caller may not write, each with the errno of the first check
/// that fails. Nothing here creates a cgroup.
///
/// clone3(2); kernel/fork.c copy_clone_args_from_user(); kernel/cgroup/cgroup.c
/// cgroup_css_set_fork(), cgroup_may_write().
@Suite(.tags(.clone3))
struct CloneIntoCgroupTests {
  @Test(arguments: try Fixtures.load("clone3-into-cgroup.json", as: ProgramCall.self).cases)
  func `clone3 refuses each CLONE_INTO_CGROUP descriptor it must refuse`(
    _ row: ConformanceCase<ProgramCall>
  ) throws {
    try Conformance.check(row) { try row.call.observe() }
  }
}
