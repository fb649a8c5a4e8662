import ConformanceSupport
import Testing

/// CLONE_INTO_CGROUP: the child starts in the cgroup given (a new one, a threaded one), and
/// each descriptor or cgroup the kernel refuses gives the errno of the first check that fails:
/// above INT_MAX, closed, no cgroup directory, a removed cgroup, a domain-invalid one below a
/// threaded cgroup, and one whose `cgroup.procs` the caller may not write. Cases that make
/// cgroups do so below one the test process makes for the case and removes with everything
/// below it (`$cgroup`); they SKIP, naming why, where the suite may not create one.
///
/// clone3(2); kernel/fork.c copy_clone_args_from_user(); kernel/cgroup/cgroup.c
/// cgroup_css_set_fork(), cgroup_may_write(), cgroup_migrate_vet_dst().
@Suite(.tags(.clone3))
struct CloneIntoCgroupTests {
  @Test(arguments: try Fixtures.load("clone3-into-cgroup.json").cases)
  func `clone3 starts a child in the cgroup given or refuses the cgroup`(
    _ row: ConformanceCase<ProgramCall>
  ) throws {
    try Conformance.check(row) { try row.call.observe() }
  }
}
