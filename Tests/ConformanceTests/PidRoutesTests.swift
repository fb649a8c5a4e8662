import ConformanceSupport
import Testing

/// Every route to a PID (procfs NSpid, pidfd fdinfo, `PIDFD_GET_INFO`, the nsfs translation
/// ioctls) gives the same PID for the same process from every PID namespace, and none where
/// the namespace cannot see it.
///
/// proc(5); ioctl_ns(2); pidfd_open(2); fs/proc/array.c task_state(); fs/nsfs.c ns_ioctl();
/// fs/pidfs.c pidfd_show_fdinfo(), pidfd_info().
@Suite(.tags(.nsfs))
struct PidRoutesTests {
  @Test(arguments: try Fixtures.load("pid-routes.json").cases)
  func `every route to a PID agrees across PID namespaces`(_ row: ConformanceCase<ProgramCall>)
    throws
  {
    try Conformance.check(row) { try row.call.observe() }
  }
}
