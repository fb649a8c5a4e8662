import ConformanceSupport
import Testing

/// nsfs ioctls name a namespace's type and open a PID namespace's parent only where the caller
/// can see it.
///
/// ioctl_ns(2); fs/nsfs.c ns_ioctl(); kernel/pid_namespace.c pidns_get_parent().
@Suite(.tags(.nsfs))
struct NsfsIoctlTests {
  @Test(arguments: try Fixtures.load("nsfs-ioctl.json").cases)
  func `nsfs ioctls answer for the caller's own namespaces`(_ row: ConformanceCase<ProgramCall>)
    throws
  {
    try Conformance.check(row) { try row.call.observe() }
  }
}

extension Tag {
  /// Cases about namespace files: nsfs ioctls.
  @Tag static var nsfs: Self
}
