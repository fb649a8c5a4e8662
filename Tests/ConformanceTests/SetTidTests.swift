import ConformanceSupport
import Testing

/// clone3's set_tid chooses the new process's PID at each PID-namespace level, innermost first;
/// every request runs unprivileged in the suite's own user and PID namespaces.
///
/// clone3(2); kernel/fork.c copy_clone_args_from_user(), copy_process(); kernel/pid.c
/// alloc_pid(); kernel/pid_namespace.c create_pid_namespace().
@Suite(.tags(.clone3, .setTid))
struct SetTidTests {
  @Test(arguments: try Fixtures.load("set-tid-levels.json").cases)
  func `set_tid gives the new process exactly the requested PIDs at every nesting depth`(
    _ row: ConformanceCase<ProgramCall>
  ) throws {
    try Conformance.check(row) { try row.call.observe() }
  }

  @Test(arguments: try Fixtures.load("set-tid-errors.json").cases)
  func `set_tid fails with the exact errno and leaks no PID`(_ row: ConformanceCase<ProgramCall>)
    throws
  {
    try Conformance.check(row) { try row.call.observe() }
  }

  @Test(arguments: try Fixtures.load("set-tid-order.json").cases)
  func `alloc_pid decides between failing checks in its version's order`(
    _ row: ConformanceCase<ProgramCall>
  ) throws {
    try Conformance.check(row) { try row.call.observe() }
  }

  @Test(arguments: try Fixtures.load("set-tid-thread.json").cases)
  func `set_tid chooses the TID of a new thread`(_ row: ConformanceCase<ProgramCall>) throws {
    try Conformance.check(row) { try row.call.observe() }
  }

  @Test(arguments: try Fixtures.load("set-tid-parent.json").cases)
  func `set_tid works with CLONE_PARENT where the kernel allows it`(
    _ row: ConformanceCase<ProgramCall>
  ) throws {
    try Conformance.check(row) { try row.call.observe() }
  }
}

extension Tag {
  /// Cases about choosing PIDs: set_tid, ns_last_pid, pid_max.
  @Tag static var setTid: Self
}
