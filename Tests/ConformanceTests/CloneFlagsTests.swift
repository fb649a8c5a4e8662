import ConformanceSupport
import Testing

/// The flags of `struct clone_args` and the fields they use (`exit_signal`, `stack`,
/// `stack_size`, `pidfd`, `parent_tid`): each rule the kernel checks, with the errno of the
/// first check that fails, and the combinations it allows.
///
/// clone3(2); kernel/fork.c clone3_args_valid(), clone3_stack_valid(), kernel_clone(),
/// copy_process().
@Suite(.tags(.clone3))
struct CloneFlagsTests {
  @Test(arguments: try Fixtures.load("clone3-flags.json").cases)
  func `clone3 accepts or rejects each flag and flag combination`(
    _ row: ConformanceCase<ProgramCall>
  ) throws {
    try Conformance.check(row) { try row.call.observe() }
  }
}
