import CKernelABI
import ConformanceResults
import Foundation
import Glibc
import Testing

@testable import ConformanceSupport
@testable import KernelABI

/// A sandbox run whose records are not all there, or not all true, makes its case BROKEN with
/// the reason named, whatever the area's code made of the run: never a PASS, never a FAIL.
///
/// Each observation below is what a careless area would conclude from the damaged run, a
/// kernel FAIL or a PASS; `Conformance.decide` must overrule it.
@Suite(.needsSandbox) struct RunIntegrityTests {
  @Test func `records beyond the buffer make the case BROKEN, not a process that never reported`()
    throws
  {
    // LEVEL_READY and 200 FIELD records: 201, for a buffer of 128.
    var count: UInt32 = 200
    var dropped = 0
    let (verdict, _, _) = Conformance.decide(try row()) {
      let run = try Sandbox.run(body: kabi_body_report_many, argument: &count)
      dropped = run.droppedReports
      guard run.reports(.field).contains(where: { $0.step == 199 }) else {
        return .broken("the last process never reported")
      }
      return .success([:])
    }
    #expect(dropped == 73)
    #expect(verdict.status == .broken)
    #expect(verdict.setupFailure?.step == "collect the body's records")
    #expect(
      verdict.setupFailure?.cause
        == "the body sent 201 records, the buffer holds 128: 73 dropped (raise maxReports)")
  }

  @Test func `a child the test process cannot look at from outside is BROKEN, not a kernel FAIL`()
    throws
  {
    let step = ProgramCall.record(ofStep: 0)
    let check = try OutsideCheck(step: step)
    defer { check.finish() }
    // Above PID_MAX_LIMIT: no process has it, so its /proc/<pid>/status cannot be read.
    let pid = Int32.max
    var child = CapabilitySetsTests.report(.child, step: step, name: "clone3")
    child.nspid.0 = pid
    check.inspect(SandboxReport(child))
    #expect(check.verdict == nil)
    let call = CapabilitySetsTests.report(.call, step: step, name: "clone3", value: Int64(pid))
    let program = try JSONDecoder().decode(
      ProgramCall.self, from: Data(#"{"steps": [{"op": "clone3"}]}"#.utf8))
    #expect {
      _ = try program.observation(of: CapabilitySetsTests.run([call, child]), outside: check)
    } throws: { error in
      "\(error)".contains(
        "look at the child from outside the sandbox: /proc/\(pid)/status has no NSpid line")
    }
  }

  @Test func `a body that fills the buffer exactly is judged`() throws {
    var count: UInt32 = 127
    let (verdict, _, _) = Conformance.decide(try row()) {
      let run = try Sandbox.run(body: kabi_body_report_many, argument: &count)
      return run.reports.count == 128 ? .success([:]) : .broken("\(run.reports.count) records")
    }
    #expect(verdict.status == .pass)
    #expect(verdict.setupFailure == nil)
  }

  @Test func `a torn record makes the case BROKEN, not a call that never returned`() throws {
    var nothing: Int32 = 0
    var torn = 0
    let (verdict, _, _) = Conformance.decide(try row()) {
      let run = try Sandbox.run(body: kabi_body_report_torn, argument: &nothing)
      torn = run.tornBytes
      guard run.reports(.call).first != nil else { return .broken("the call never reported") }
      return .success([:])
    }
    let recordSize = MemoryLayout<kabi_report>.size
    #expect(torn == recordSize / 2)
    #expect(verdict.status == .broken)
    #expect(verdict.setupFailure?.step == "collect the body's records")
    #expect(
      verdict.setupFailure?.cause
        == "the last record is torn: \(recordSize / 2) of \(recordSize) bytes arrived (a writer "
        + "died mid-record or wrote part of one)")
  }

  @Test func `a record without its writer's NSpid makes the case BROKEN, naming the errno`()
    throws
  {
    var nothing: Int32 = 0
    var call: SandboxReport?
    let (verdict, _, _) = Conformance.decide(try row()) {
      let run = try Sandbox.run(body: kabi_body_report_without_fds, argument: &nothing)
      call = run.reports(.call).first
      // Without a check the missing NSpid is merely an unknown field, and the case passes.
      return .succeeded(pid: call?.pid ?? 0, nspid: call?.nspid)
    }
    #expect(call?.value == 0, "prlimit(RLIMIT_NOFILE, 0) failed: the premise did not hold")
    #expect(call?.nspidError == Errno(rawValue: EMFILE))
    #expect(verdict.status == .broken)
    #expect(verdict.setupFailure?.step == "read the reporter's NSpid at sandbox level 1, pid 1")
    #expect(verdict.setupFailure?.errno == "EMFILE")
    #expect(
      verdict.reason
        == "setup failed: read the reporter's NSpid at sandbox level 1, pid 1: EMFILE "
        + "(its call record came without its NSpid (EMFILE (24): Too many open files), so the "
        + "PIDs it reported cannot be checked)")
  }

  @Test func `a run that hit its timeout is BROKEN even where the area never asks`() throws {
    var nothing: Int32 = 0
    let (verdict, _, _) = Conformance.decide(try row()) {
      _ = try Sandbox.run(
        SandboxSpec(timeoutMilliseconds: 300), body: kabi_body_hang, argument: &nothing)
      return .success([:])
    }
    #expect(verdict.status == .broken)
    #expect(verdict.setupFailure?.step == "wait for the sandbox")
  }

  @Test func `a damaged run overrules a SKIP the area drew from it`() throws {
    var nothing: Int32 = 0
    let (verdict, _, _) = Conformance.decide(try row()) {
      let run = try Sandbox.run(body: kabi_body_report_torn, argument: &nothing)
      if run.reports(.call).isEmpty { throw CaseSkip(.feature, "the call is not there") }
      return .success([:])
    }
    #expect(verdict.status == .broken)
    #expect(verdict.setupFailure?.step == "collect the body's records")
  }

  // A sandbox that survives SIGKILL past the grace period needs a task stuck in the kernel
  // (uninterruptible sleep), and a refused kill(2) a seccomp filter on the test process
  // itself: neither can be made from a test without harming the run. So these two are
  // simulated: the outcome `kabi_sandbox_run` would leave, read as `Sandbox.run` reads it.

  @Test func `a sandbox not reaped after its SIGKILL makes the case BROKEN`() throws {
    var outcome = kabi_sandbox_outcome()
    outcome.timed_out = 1
    outcome.unreaped = 1
    let verdict = try decide(simulating: outcome)
    #expect(verdict.status == .broken)
    #expect(verdict.setupFailure?.step == "reap the sandbox after the timeout's SIGKILL")
    #expect(verdict.setupFailure?.cause?.contains("5500 ms after it was killed") == true)
  }

  @Test func `a sandbox that neither pidfd_send_signal nor kill(2) killed makes the case BROKEN`()
    throws
  {
    var outcome = kabi_sandbox_outcome()
    outcome.timed_out = 1
    outcome.kill_errno = EPERM
    outcome.kill_fallback_errno = EPERM
    let verdict = try decide(simulating: outcome)
    #expect(verdict.status == .broken)
    #expect(verdict.setupFailure?.step == "kill the sandbox at its timeout with kill(2)")
    #expect(verdict.setupFailure?.errno == "EPERM")
    #expect(
      verdict.setupFailure?.cause
        == "kill(2) answered EPERM (1): Operation not permitted after pidfd_send_signal answered "
        + "EPERM (1): Operation not permitted: the sandbox was left running")
  }

  @Test func `a process a step made that was reaped without reporting back is not a success`()
    throws
  {
    // set_tid.errors.pid-max-minus-1 expects a plain success: clone3 returned a PID and its
    // creator reaped the child (killed by SIGSEGV), which never sent its CHILD record.
    let call = try CapabilitySetsTests.call(
      #"{"steps": [{"op": "clone3", "args": {"clone_args": {"set_tid": ["pid_max-1"]}}}]}"#)
    let step = Int32(KABI_PROGRAM_FIRST_STEP)
    let run = CapabilitySetsTests.run([
      CapabilitySetsTests.report(.field, step: step, name: "pid_max", value: 32768),
      CapabilitySetsTests.report(.field, step: step, name: "creatorView", value: 0),
      CapabilitySetsTests.report(.childExit, step: step, name: "", value: Int64(SIGSEGV)),
      CapabilitySetsTests.report(.call, step: step, name: "clone3", value: 32767),
    ])
    #expect(
      try call.observation(of: run)
        == .broken("clone3 returned 32767 but no process reported back"))
  }

  /// A case expecting a plain success: every observation above would PASS or FAIL it.
  private func row() throws -> ConformanceCase<ProgramCall> {
    let fixture =
      #"{"id": "t.run", "title": "t", "call": {"steps": [{"op": "clone3"}]}, "expect": [{"result": "success"}]}"#
    return try JSONDecoder().decode(ConformanceCase<ProgramCall>.self, from: Data(fixture.utf8))
  }

  /// Decides a case whose one sandbox run ended as `outcome` says, told to the case's watch
  /// as `Sandbox.run` tells it, and whose area reads a success from it.
  private func decide(simulating outcome: kabi_sandbox_outcome) throws -> Verdict {
    var outcome = outcome
    outcome.wait_code = Int32(CLD_KILLED)
    outcome.wait_status = SIGKILL
    let (verdict, _, _) = Conformance.decide(try row()) {
      let run = SandboxRun(outcome: outcome, records: [], timeoutMilliseconds: 1000)
      SandboxRunWatch.current?.watch(run)
      return .success([:])
    }
    return verdict
  }
}
