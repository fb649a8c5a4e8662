import ConformanceSupport
import Testing

/// Who may choose a PID, make or join a PID namespace and write its sysctls: the capability,
/// in which set, over which user namespace. set_tid wants CAP_SYS_ADMIN or (5.9)
/// CAP_CHECKPOINT_RESTORE over the owner of each level given a PID; ns_last_pid the same over
/// the owner of the writer's active namespace, at write(); pid_max (6.14) CAP_SYS_ADMIN or the
/// owner's root uid, at open() and write(); CLONE_NEWPID and setns() CAP_SYS_ADMIN. Only the
/// effective set counts, except for the owner of a user namespace, by its euid, in the parent
/// user namespace: it holds every capability over the namespace it owns.
///
/// capabilities(7), clone(2), setns(2), proc(5); kernel/pid.c alloc_pid(), pid_table_root_
/// permissions(); kernel/pid_namespace.c pid_ns_ctl_handler(), create_pid_namespace(),
/// pidns_install(); kernel/nsproxy.c; security/commoncap.c cap_capable().
@Suite(.tags(.capabilities))
struct CapabilityMatrixTests {
  @Test(arguments: try Fixtures.programs("capabilities.json", inSuiteUserNamespace: false))
  func `capabilities over the namespaces a sandbox builds decide each call`(
    _ row: ConformanceCase<ProgramCall>
  ) throws {
    try Conformance.check(row) { try row.call.observe() }
  }

  @Test(
    .needsInitialUserNamespace("cap_sys_admin", "cap_checkpoint_restore", "cap_setuid"),
    arguments: try Fixtures.programs("capabilities.json", inSuiteUserNamespace: true))
  func `capabilities in the initial user namespace decide each call there`(
    _ row: ConformanceCase<ProgramCall>
  ) throws {
    try Conformance.check(row) { try row.call.observe() }
  }
}

extension Tag {
  /// Cases about who may act: capabilities and the user namespaces that own PID namespaces.
  @Tag static var capabilities: Self
}
