import CKernelABI
import ConformanceSupport
import Foundation
import KernelABI
import Testing

/// The words a table uses for where its program runs, and the generic proofs and retries of
/// the engine (`ProgramEnvironment.swift`).
@Suite struct ProgramEnvironmentTests {
  /// Cancels the test where clone3 is refused or missing (the hostile environments).
  static func requireClone3() throws {
    if Features.state("clone3") != .present {
      try Test.cancel("clone3 is not usable here: \(Features.state("clone3"))")
    }
  }

  static func clone3(_ args: [String: Argument]) -> ProgramCall.Step {
    .init("clone3", args: ["clone_args": .object(args)])
  }

  @Test func `set_tid_size level+N counts the sandbox, nested namespaces and CLONE_NEWPID`() throws
  {
    let call = ProgramCall(steps: [
      .init("pid-namespaces", args: ["count": .number(2)], setup: true),
      Self.clone3([
        "flags": .list([.text("CLONE_NEWPID")]), "set_tid": .list([.number(1)]),
        "set_tid_size": .text("level+2"),
      ]),
    ])
    let context = ProgramContext(suiteLevel: 1, levels: 3, values: [:])
    // The new process's level: 1 (suite) + 3 (sandbox) + 2 (nested) + 1 (CLONE_NEWPID) = 7.
    #expect(try CompiledProgram(call, context: context).levelSizes == [9])
    #expect(try CompiledProgram(call).levelSizes == [5])
  }

  @Test func `a word±n is refused with a missing or doubled sign, or an n out of range`() throws {
    for word in ["pid_max2", "pid_max++2", "pid_max+", "pid_max+4294967296"] {
      #expect(throws: DecodingError.self, "\(word)") {
        try JSONDecoder().decode(TidValue.self, from: Data("\"\(word)\"".utf8))
      }
    }
    #expect(try JSONDecoder().decode(TidValue.self, from: Data(#""pid_max-1""#.utf8)).number == -1)
    for word in ["level2", "level++2"] {
      let call = ProgramCall(steps: [Self.clone3(["set_tid_size": .text(word)])])
      #expect {
        try CompiledProgram(call)
      } throws: {
        "\($0)".contains("set_tid_size \"\(word)\" is not level±n")
      }
    }
  }

  @Test func `a $ word is resolved from the run's environment and an unknown one is refused`()
    throws
  {
    let own = ProgramCall(steps: [
      .init(
        "own-file",
        args: ["path": .text("/proc/sys/kernel/pid_max"), "hostInode": .text("$hostPidMaxInode")])
    ])
    #expect(own.problem == nil)
    let unknown = ProgramCall(steps: [
      .init("own-file", args: ["path": .text("/x"), "hostInode": .text("$noSuchValue")])
    ])
    #expect(unknown.problem?.contains("no value $noSuchValue") == true)
  }

  @Test func `a reference with an empty label or kept name is refused, not read as another`() {
    func call(releasing fd: String) -> ProgramCall {
      ProgramCall(steps: [
        .init("blocker", label: "blocker", args: ["clone_args": .object([:])], setup: true),
        .init("release", args: ["pid": .text("@blocker"), "fd": .text(fd)], setup: true),
      ])
    }
    #expect(call(releasing: "@blocker.release").problem == nil)
    // "@blocker." read as "@blocker" (what the step returned, a PID, not its kept descriptor);
    // "@.blocker" as "@blocker".
    #expect(call(releasing: "@blocker.").problem?.contains("@blocker.") == true)
    #expect(call(releasing: "@.blocker").problem?.contains("@.blocker") == true)
  }

  @Test func `no step after pid-namespaces or waiting-thread may run stacks on the scratch memory`()
  {
    // pid-namespaces runs the rest of the program on stacks in the body's scratch memory, where
    // thread and race (and the clone3 stack cases) start theirs: the stacks would overlap.
    for holder in ["pid-namespaces", "waiting-thread"] {
      for user in ["thread", "race", "cleartid", "stack", "waiting-thread", "pid-namespaces"] {
        let call = ProgramCall(steps: [
          .init(holder, args: holder == "pid-namespaces" ? ["count": .number(2)] : [:]),
          .init(user),
        ])
        #expect(
          call.problem?.contains("step 2 (\(user)) runs on the sandbox body's scratch memory")
            == true,
          "\(holder) then \(user)")
      }
      #expect(
        ProgramCall(steps: [.init(holder, args: [:]), .init("getpid")]).problem?.contains(
          "scratch") != true)
    }
    // Used during its own step only, the memory is free again for the next.
    #expect(ProgramCall(steps: [.init("thread"), .init("race")]).problem == nil)
    #expect(
      ProgramCall(steps: [.init("thread"), .init("pid-namespaces", args: ["count": .number(2)])])
        .problem == nil)
  }

  @Test func `levels is a number or deepest`() throws {
    let decoded = try JSONDecoder().decode(
      ProgramCall.self, from: Data(#"{"levels": "deepest", "steps": [{"op": "capget"}]}"#.utf8))
    #expect(decoded.levels == .deepest)
    #expect(
      throws: DecodingError.self,
      performing: {
        try JSONDecoder().decode(
          ProgramCall.self, from: Data(#"{"levels": "deep", "steps": [{"op": "capget"}]}"#.utf8))
      })
    // A sandbox has 1 to 32 levels: -1 trapped in Sandbox.run, 0 ran as a BROKEN case.
    for levels in [-1, 0, 33] {
      #expect(throws: DecodingError.self, "levels \(levels)") {
        try JSONDecoder().decode(
          ProgramCall.self,
          from: Data(#"{"levels": \#(levels), "steps": [{"op": "capget"}]}"#.utf8))
      }
    }
  }

  @Test(.needsSandbox)
  func `a setup retry after a failure that went on is BROKEN and names that failure`() throws {
    try Self.requireClone3()
    let tids: [String: Argument] = ["set_tid": .list([.number(4300)])]
    let call = ProgramCall(steps: [
      .init("blocker", label: "blocker", args: ["clone_args": .object(tids)], setup: true),
      .init("clone3", args: ["clone_args": .object(tids)], goOn: true),
      // Not released: the retry must fail as a leaked PID would make it.
      .init("clone3", label: "retry", args: ["clone_args": .object(tids)], setup: true),
    ])
    let broken = try #require(throws: CaseBroken.self) { try call.observe() }
    #expect(broken.failure.step.contains("step 3, clone3 (retry)"))
    #expect(broken.failure.step.contains("step 2 failed before it with EEXIST"))
  }

  @Test(.needsSandbox)
  func `a clone3 child proves it got the pid_max-relative PID it asked for`() throws {
    try Self.requireClone3()
    let call = ProgramCall(steps: [
      Self.clone3(["set_tid": .list([.text("pid_max-1")])])
    ])
    let observed = try call.observe()
    // The proof's own fields (pid_max, creatorView) are not part of the observation.
    #expect(observed.result == .success)
    #expect(Set(observed.fields.values.keys) == ["pid", "nspid"])
  }

  @Test(.needsSandbox)
  func `nest-userns answers ENOSPC only at the deepest user-namespace level, counted from its own`()
    throws
  {
    func nest(level: Argument) -> ProgramCall {
      ProgramCall(steps: [.init("nest-userns", args: ["level": level])])
    }
    // Its own level (or -1 where the suite's is unknown): the limit comes where it must.
    let own = try nest(level: .text("$programUserNamespaceLevel")).observe()
    #expect(own.result == .failure(.ENOSPC))
    // Level 5, deeper than the op's own in every setting the suite runs in, stands for a kernel
    // whose limit came early: that ENOSPC is not matched, and the fields say where it came.
    let early = try nest(level: .number(5)).observe()
    #expect(early.result == .success)
    #expect(Set(early.fields.values.keys) == ["made", "level"])
  }
}
