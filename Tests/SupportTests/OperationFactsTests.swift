import CKernelABI
import Foundation
import Testing

@testable import ConformanceSupport

/// The facts an operation's C file registers with it (`KABI_OP_WITH`, a parameter's syscall), as
/// the test process reads them from the `kabi_ops` section.
@Suite struct OperationFactsTests {
  @Test func `a registration says which child is a thread, may be killed, and what else is called`()
    throws
  {
    #expect(Operation.registered["thread"]?.makesThreads == true)
    #expect(Operation.registered["clone3"]?.makesThreads == false)
    #expect(Operation.registered["autokill"]?.childMayBeKilledBy == Int64(SIGKILL))
    #expect(Operation.registered["clone3"]?.childMayBeKilledBy == nil)
    let child = try #require(Operation.registered["pidfd-child"])
    #expect(child.syscalls(of: .init("pidfd-child")) == ["clone3"])
    let signalled = ProgramCall.Step("pidfd-child", args: ["signal": .text("SIGKILL")])
    #expect(child.syscalls(of: signalled) == ["clone3", "pidfd_send_signal"])
  }

  @Test func `an unmet need is the reason its C file gives, and only where it is unmet`() throws {
    let trampoline: String? =
      kabi_threads_supported() == 0
      ? "starting a thread from a sandbox body needs the x86-64 clone3 trampoline" : nil
    #expect(Operation.registered["thread"]?.unmetNeed == trampoline)
    // The status file's NoNewPrivs is what prctl(PR_GET_NO_NEW_PRIVS) answers.
    let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
    let nnp = try #require(
      status.split(separator: "\n").first { $0.hasPrefix("NoNewPrivs:") }?.split(separator: "\t")
        .last)
    let inherited: String? =
      nnp == "0"
      ? nil
      : "the test process runs with no_new_privs set (prctl PR_GET_NO_NEW_PRIVS answered \(nnp)), "
        + "which every child inherits"
    #expect(Operation.registered["no-new-privs"]?.unmetNeed == inherited)
    #expect(Operation.registered["clone3"]?.unmetNeed == nil)
  }
}
