import ConformanceSupport
import Testing

/// What clone3's flags and fields do, each seen by the process that would see it: the signal
/// the parent gets at the child's exit, the TIDs written to `parent_tid` and `child_tid` and the
/// futex woken when it is cleared, the pidfd and what it refers to (and nothing left behind
/// when it cannot be written), the dispositions the child starts with, the stack it runs on,
/// its parent, and the caller suspended by CLONE_VFORK; and the flags of 7.1: a child the kernel
/// reaps itself (CLONE_AUTOREAP), one killed when its pidfd is closed (CLONE_PIDFD_AUTOKILL),
/// one that starts with no_new_privs (CLONE_NNP) or in an empty mount namespace
/// (CLONE_EMPTY_MNTNS).
///
/// clone3(2); kernel/fork.c copy_process(), kernel_clone(), copy_sighand(), mm_release();
/// kernel/signal.c do_notify_parent(); kernel/exit.c exit_notify(); fs/pidfs.c;
/// fs/namespace.c copy_mnt_ns().
@Suite(.tags(.clone3))
struct CloneEffectsTests {
  @Test(arguments: try Fixtures.load("clone3-effects.json").cases)
  func `clone3's flags and fields have the effects the kernel promises`(
    _ row: ConformanceCase<ProgramCall>
  ) throws {
    try Conformance.check(row) { try row.call.observe() }
  }
}
