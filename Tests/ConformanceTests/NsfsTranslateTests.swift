import ConformanceSupport
import Testing

/// The PID translation ioctls turn a PID between the caller's PID namespace and the one a file
/// names, for processes and threads the other side can see, and fail for those it cannot.
///
/// ioctl_ns(2); fs/nsfs.c ns_ioctl(); kernel/pid.c find_task_by_pid_ns(), pid_nr_ns().
@Suite(.tags(.nsfs))
struct NsfsTranslateTests {
  @Test(arguments: try Fixtures.load("nsfs-translate.json").cases)
  func `PID translation ioctls answer across PID namespaces`(_ row: ConformanceCase<ProgramCall>)
    throws
  {
    try Conformance.check(row) { try row.call.observe() }
  }
}
