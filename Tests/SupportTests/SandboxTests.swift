import CKernelABI
import ConformanceSupport
import Foundation
import KernelABI
import Testing

/// The sandbox every case runs in: C bodies in fresh user and PID namespaces, records over a
/// pipe, a timeout, and nothing left behind.
@Suite(.needsSandbox) struct SandboxTests {
  @Test(arguments: [1, 2, 5])
  func `every sandbox level is PID 1 and root of its own namespaces`(levels: Int) throws {
    var count: UInt32 = 0
    let run = try Sandbox.run(
      SandboxSpec(levels: levels), body: kabi_body_fan_out, argument: &count)
    let ready = run.reports(.levelReady)
    #expect(ready.map(\.level) == Array(1...Int32(levels)))
    #expect(ready.allSatisfy { $0.pid == 1 && $0.uid == 0 })
    #expect(run.exitCode == 0)
  }

  @Test(arguments: [-1, 0, 33])
  func `a sandbox of no level, or more than 32, is refused with EINVAL`(levels: Int) {
    var nothing: Int32 = 0
    #expect(throws: Errno.EINVAL) {
      try Sandbox.run(SandboxSpec(levels: levels), body: kabi_body_hang, argument: &nothing)
    }
  }

  @Test func `a program's failed setup step is BROKEN, named in words with its errno`() throws {
    let missing = "/proc/sys/kernel/no_such_sysctl"
    let program = ProgramCall(steps: [
      .init("fork-reap", args: ["count": .number(1)], setup: true),
      .init("write", args: ["path": .text(missing), "value": .number(1)], setup: true),
      .init("read", args: ["path": .text(missing)]),
    ])
    let run = try program.run()
    let broken = try #require(throws: CaseBroken.self) { try program.requireSetUp(run) }
    #expect(broken.failure.step == "sandbox level 1: step 2, write \(missing)")
    #expect(broken.failure.errno == "ENOENT")
    #expect(run.reports(.call).map(\.name) == ["fork-reap"])
  }

  @Test func `what a failed setup step names reaches the BROKEN reason whole`() throws {
    // open-handle refuses more than 8 handle bytes as its own setup failure, named in words
    // longer than an operation's name.
    let program = ProgramCall(steps: [.init("open-handle", args: ["bytes": .number(9)])])
    let run = try program.run()
    let broken = try #require(throws: CaseBroken.self) { try program.requireSetUp(run) }
    #expect(
      broken.failure.step == "sandbox level 1: step 1, open-handle (bytes (0 to 8: one word kept))")
    #expect(broken.failure.errno == "EINVAL")
  }

  @Test func `a program that nests PID namespaces runs its remaining steps in the innermost`()
    throws
  {
    let program = ProgramCall(steps: [
      .init("pid-namespaces", args: ["count": .number(3)], setup: true),
      .init("read", args: ["path": .text("/proc/sys/kernel/ns_last_pid")]),
    ])
    let run = try program.run()
    try program.requireSetUp(run)
    let calls = run.reports(.call)
    #expect(calls.map(\.name) == ["pid-namespaces", "read"])
    #expect(calls.map(\.level) == [4, 4])
    #expect(calls.first?.value == 3)
    // Nothing was made in the innermost namespace before the read: its init is PID 1.
    #expect(calls.last?.value == 1)
    #expect(run.exitCode == 0)
  }

  @Test func `records from many sandbox processes arrive whole and in full`() throws {
    var count: UInt32 = 200
    let run = try Sandbox.run(body: kabi_body_fan_out, argument: &count, maxReports: 512)
    #expect(run.reports(.child).count == 200)
    #expect(Set(run.reports(.child).map(\.step)).count == 200)
    #expect(run.lostReports == 0)
  }

  @Test func `a body that hangs is killed at the timeout, with its children`() throws {
    let name = uniqueProcessName()
    var nothing: Int32 = 0
    let run = try Sandbox.run(
      SandboxSpec(timeoutMilliseconds: 300, processName: name), body: kabi_body_hang,
      argument: &nothing)
    #expect(run.timedOut)
    #expect(run.signal == SIGKILL)
    #expect(run.reports(.child).count == 2)
    #expect(try processes(named: name).isEmpty)
  }

  @Test(arguments: [1, 3])
  func `a stack overflow at any level faults instead of running into the level above`(
    levels: Int
  ) throws {
    var nothing: Int32 = 0
    let run = try Sandbox.run(
      SandboxSpec(levels: levels), body: kabi_body_overflow_stack, argument: &nothing)
    #expect(run.reports(.call).count == 1)
    #expect(!run.timedOut)
    // The innermost level dies of SIGSEGV; each level above exits with 128 + its child's signal.
    #expect(levels == 1 ? run.signal == SIGSEGV : run.exitCode == 128 + SIGSEGV)
    #expect(run.reports(.levelReady).count == levels)
  }

  @Test func `a body that crashes is reported, and its sandbox reaped`() throws {
    let name = uniqueProcessName()
    let memory = try GuardedMemory(capacity: 1)
    var readOnly = memory.guardAddress
    let run = try Sandbox.run(
      SandboxSpec(processName: name), body: kabi_body_crash, argument: &readOnly)
    #expect(!run.timedOut)
    #expect(run.reports(.call).count == 1)
    #expect(run.signal == SIGSEGV)
    #expect(try processes(named: name).isEmpty)
  }

  @Test func `descriptors of the test process stay out of the sandbox unless kept`() throws {
    var fds: [Int32] = [-1, -1]
    try #require(pipe(&fds) == 0)
    defer { for fd in fds { close(fd) } }

    var closedFd = fds[0]
    let closed = try Sandbox.run(body: kabi_body_probe_fd, argument: &closedFd)
    #expect(closed.reports(.call).first?.result == .failure(.EBADF))

    var keptFd = fds[1]
    let kept = try Sandbox.run(
      SandboxSpec(keepDescriptors: [keptFd]), body: kabi_body_probe_fd, argument: &keptFd)
    #expect(kept.reports(.call).first.map { $0.value >= 0 } == true)
  }

  @Test func `records reach the caller while the sandbox still runs`() throws {
    var count: UInt32 = 3
    var seen: [SandboxReport.Tag] = []
    let run = try Sandbox.run(body: kabi_body_fan_out, argument: &count) { report in
      if let tag = report.tag { seen.append(tag) }
    }
    #expect(seen == run.reports.compactMap(\.tag))
  }

  @Test func `the suite's own PID-namespace level is measured`() throws {
    let level = try #require(TestEnvironment.pidNamespaceLevel)
    #expect((0...32).contains(level))
  }

  /// A `comm` (at most 15 bytes) no other test uses, so a leak check sees only this test.
  private func uniqueProcessName() -> String {
    "pt-\(getpid() % 10000)-\(Int.random(in: 0..<100_000))"
  }
}

/// Processes whose `comm` is `name`, from the procfs this process sees. A /proc it cannot
/// list or read throws: a leak check that cannot look must not report "no leak".
func processes(named name: String) throws -> [Int32] {
  try FileManager.default.contentsOfDirectory(atPath: "/proc").compactMap { entry in
    guard let pid = Int32(entry) else { return nil }
    let comm: String
    do {
      comm = try String(contentsOfFile: "/proc/\(entry)/comm", encoding: .utf8)
    } catch  where !FileManager.default.fileExists(atPath: "/proc/\(entry)") {
      return nil  // it exited between the listing and the read
    }
    return comm.trimmingCharacters(in: .newlines) == name ? pid : nil
  }
}
