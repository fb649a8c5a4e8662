import CKernelABI
import ConformanceSupport
import Foundation
import KernelABI
import Testing

/// The tree planner (`TreeRestore.swift`): the order it makes a tree in, the fixtures it
/// refuses before anything is cloned, each refusal naming the entry, and the check that names
/// the process and the level where a restored tree differs from its fixture.
@Suite struct TreePlanTests {
  /// Processes as a tree file writes them: init (PID 1) with a child `a`, and `ns`, PID 1 of a
  /// namespace below, whose child `b` has a thread.
  static let valid = [
    #"{"name": "init", "pids": [1], "session": "init"}"#,
    #"{"name": "a", "parent": "init", "pids": [10], "group": "a"}"#,
    #"{"name": "ns", "parent": "init", "pids": [11, 1], "newPidNamespace": true}"#,
    #"{"name": "b", "parent": "ns", "pids": [12, 5], "threads": [{"name": "t", "tids": [13, 6]}]}"#,
  ]

  /// Plans a tree file of `processes`.
  static func plan(_ processes: [String], pidMax: Int64 = 32768) throws -> TreePlan {
    let json = #"{"title": "test", "processes": [\#(processes.joined(separator: ", "))]}"#
    let fixture = try JSONDecoder().decode(TreeFixture.self, from: Data(json.utf8))
    return try TreePlan(fixture, tree: "test", pidMax: pidMax)
  }

  /// The refusal `processes` get, in words.
  static func refusal(_ processes: [String], pidMax: Int64 = 32768) -> String? {
    do {
      _ = try plan(processes, pidMax: pidMax)
      return nil
    } catch let error as FixtureError {
      return error.message
    } catch {
      return "not a refusal: \(error)"
    }
  }

  /// `valid` with the process named `name` replaced by `process`.
  static func replacing(_ name: String, with process: String) -> [String] {
    valid.map { $0.hasPrefix(#"{"name": "\#(name)""#) ? process : $0 }
  }

  @Test func `a tree is made parents first, each thread right after its process`() throws {
    let plan = try Self.plan(Self.valid)
    #expect(plan.entries.map(\.name) == ["init", "a", "ns", "b", "b/t"])
    #expect(plan.entries.map(\.creator) == [nil, 0, 0, 2, 3])
    #expect(plan.entries.map(\.newPidNamespace) == [true, false, true, false, false])
    #expect(plan.records == 4 * Int(KABI_TREE_PROCESS_RECORDS) + Int(KABI_TREE_THREAD_RECORDS))
    let b = plan.entries[3]
    // b is in init's session (PID 1 at level 0, not visible inside ns: 0) and init's group.
    #expect(b.expected.map(\.line) == ["NSpid", "NStgid", "NSpgid", "NSsid"])
    #expect(b.expected[2].values == [1, 0])
    #expect(b.expected[3].values == [1, 0])
    #expect(plan.entries[4].expected.map(\.values) == [[13, 6], [12, 5]])
  }

  @Test func `the older route writes each level's ns_last_pid from a process of that namespace`()
    throws
  {
    let plan = try Self.plan(Self.valid)
    let none = Int32(KABI_TREE_NO_WRITER)
    // init makes its own namespace; a is written by its creator, init; ns is PID 1 of its own
    // namespace and written by init at level 0; b's level 1 by its creator ns, its level 0 by
    // init, that namespace's init (never the restorer); b/t likewise.
    #expect((0..<5).map { plan.writers(of: $0) } == [[none], [0], [0, none], [0, 2], [0, 3]])
    #expect(!(0..<5).flatMap { plan.writers(of: $0) }.contains(Int32(KABI_TREE_RESTORER)))
  }

  @Test func `noise processes take the highest PIDs no entry has at the outermost level`() throws {
    let plan = try Self.plan(Self.valid + [#"{"name": "top", "parent": "init", "pids": [32767]}"#])
    #expect(plan.noisePids(pidMax: 32768) == [32766, 32765, 32764, 32763])
  }

  @Test func `a fixture listing a member before its namespace's init or parent is reordered`()
    throws
  {
    let plan = try Self.plan(Self.valid.reversed())
    #expect(plan.entries.map(\.name) == ["init", "ns", "b", "b/t", "a"])
  }

  @Test func `one PID in two namespaces at the same level is no conflict`() throws {
    let processes =
      Self.valid + [
        #"{"name": "ns2", "parent": "init", "pids": [20, 1], "newPidNamespace": true}"#,
        #"{"name": "c", "parent": "ns2", "pids": [21, 5]}"#,
      ]
    #expect(throws: Never.self) { try Self.plan(processes) }
  }

  @Test func `two processes with one PID at a level are refused, naming both`() {
    let processes = Self.replacing("b", with: #"{"name": "b", "parent": "ns", "pids": [10, 5]}"#)
    #expect(
      Self.refusal(processes)
        == "process 'b' has PID 10 at level 0 (the namespace of 'init'), which process 'a' has too"
    )
  }

  @Test func `a PID at or above pid_max is refused, naming the process and the level`() {
    let processes = Self.replacing("a", with: #"{"name": "a", "parent": "init", "pids": [32768]}"#)
    #expect(
      Self.refusal(processes) == "process 'a': PID 32768 at level 0 is not in 1..<pid_max (32768)")
    #expect(Self.refusal(processes, pidMax: 32769) == nil)
  }

  @Test func `a namespace whose first process is not PID 1 is refused`() {
    let processes = Self.replacing(
      "ns", with: #"{"name": "ns", "parent": "init", "pids": [11, 3], "newPidNamespace": true}"#)
    #expect(
      Self.refusal(processes)
        == "process 'ns' would be the first process of its namespace at level 1 with PID 3: a "
        + "namespace's first process is its init, PID 1, and no PID is given before the init "
        + "exists")
  }

  @Test func `a thread whose TID is another process's PID is refused`() {
    let processes = Self.replacing(
      "b",
      with:
        #"{"name": "b", "parent": "ns", "pids": [12, 5], "threads": [{"name": "t", "tids": [10, 6]}]}"#
    )
    #expect(
      Self.refusal(processes)
        == "thread 'b/t' has TID 10 at level 0 (the namespace of 'init'), which process 'a' has too"
    )
  }

  @Test func `shapes the restorer cannot make are refused, naming the entry`() {
    #expect(
      Self.refusal(Self.valid + [#"{"name": "c", "parent": "nobody", "pids": [30]}"#])
        == "process 'c': its parent 'nobody' is no process of the tree")
    #expect(
      Self.refusal(Self.valid + [#"{"name": "c", "parent": "ns", "pids": [30]}"#])
        == "process 'c' has 1 PIDs but is in 2 namespace levels (its parent is at 2 levels, and "
        + "it makes no namespace)")
    #expect(
      Self.refusal(Self.valid + [#"{"name": "c", "parent": "a", "pids": [30], "session": "init"}"#])
        == nil)
    #expect(
      Self.refusal(Self.valid + [#"{"name": "c", "parent": "b", "pids": [30, 7], "session": "a"}"#])
        == "process 'c': its session 'a' is neither its own (setsid) nor its parent's ('init')")
    #expect(
      Self.refusal(Self.valid + [#"{"name": "c", "parent": "b", "pids": [30, 7], "group": "a"}"#])
        == "process 'c': its group leader 'a' is not in its PID namespace, so setpgid cannot "
        + "name it")
    #expect(
      Self.refusal(Array(Self.valid.dropFirst()))
        == "a tree has one root, PID 1 of level 0 (the process without a parent), not 0")
  }

  @Test func `a tree file is read and refused by name, and only from the trees folder`() throws {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("tree-plan-\(getpid())")
    try FileManager.default.createDirectory(
      at: directory.appendingPathComponent("trees"), withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let json = #"""
      {"title": "t", "processes": [{"name": "init", "pids": [1]},
        {"name": "x", "parent": "init", "pids": [7]}, {"name": "y", "parent": "init", "pids": [7]}]}
      """#
    try Data(json.utf8).write(to: directory.appendingPathComponent("trees/twice.json"))
    let fixture = try TreeFixture.load("twice", from: directory)
    #expect(throws: FixtureError.self) {
      try TreePlan(fixture, tree: "twice", pidMax: 32768)
    }
    #expect(throws: FixtureError.self) { try TreeFixture.load("../twice", from: directory) }
  }

  @Test(.needsSandbox)
  func `a restored tree that differs from its fixture fails, naming the process and level`()
    throws
  {
    try ProgramEnvironmentTests.requireClone3()
    let call = ProgramCall(steps: [.init("restore", args: ["tree": .text("criu-shell")])])
    let compiled = try CompiledProgram(call)
    let run = try withExtendedLifetime(compiled) { try call.run(compiled) }
    let step = Int32(KABI_PROGRAM_FIRST_STEP)
    let tree = try #require(compiled.trees[step])
    let memory = try #require(tree.memory)
    #expect(run.damage == nil)
    #expect(try tree.plan.problem(in: run, step: step, memory: memory) == nil)
    var wrong = tree.plan
    let crond = try #require(wrong.entries.firstIndex { $0.name == "crond" })
    wrong.entries[crond].expected[0].values[2] = 4
    #expect(
      try wrong.problem(in: run, step: step, memory: memory)
        == "tree criu-shell: process 'crond' at level 2 (the namespace of 'inner-sh'): NSpid is "
        + "5, the fixture says 4 (NSpid from the tree's outermost level: 3122 33 5, fixture: "
        + "3122 33 4)")
    wrong = tree.plan
    let grep = try #require(wrong.entries.firstIndex { $0.name == "grep" })
    wrong.entries[grep].expected[2].values[0] = 2843
    #expect(
      try wrong.problem(in: run, step: step, memory: memory)?.contains(
        "process 'grep' at level 0 (the namespace of 'systemd'): NSpgid is 2911, the fixture says "
          + "2843") == true)
  }
}
