import ConformanceSupport
import Testing

/// `struct clone_args` is versioned by its size: VER0 64, VER1 80, VER2 88 bytes; anything up
/// to a page is accepted if the bytes the kernel does not know are zero.
///
/// clone3(2); kernel/fork.c copy_clone_args_from_user(); lib/usercopy.c
/// copy_struct_from_user().
@Suite(.tags(.clone3))
struct CloneArgsSizeTests {
  @Test(arguments: try Fixtures.load("clone3-sizes.json").cases)
  func `clone3 accepts or rejects struct clone_args by its size`(
    _ row: ConformanceCase<ProgramCall>
  ) throws {
    try Conformance.check(row) { try row.call.observe() }
  }
}
