import CKernelABI
import Foundation
import KernelABI

/// A process tree as `Fixtures/trees/NAME.json` describes it: every process with its PID at
/// every PID-namespace level of the tree, outermost level first (as NSpid lists them), its
/// parent, its session and process group by their leaders' names, and its threads.
///
/// Level 0 is the tree's outermost namespace, whose init, PID 1, is the root: the one process
/// without a parent, which the restorer makes with CLONE_NEWPID. A process with
/// `newPidNamespace` is PID 1 of a namespace one level below its parent's. A process with no
/// `session` is in its parent's session, and one whose `session` is itself calls setsid(); with
/// no `group` it is in its parent's group (its own after setsid()), and one whose `group` is
/// itself calls setpgid(0, 0). The root's parent, session and group are the restorer's, outside
/// the tree: its NSsid and NSpgid are 0 at every level of the tree.
public struct TreeFixture: Decodable, Sendable {
  public struct Thread: Decodable, Sendable {
    public var name: String
    /// The thread's TID at each level of its process, outermost first.
    public var tids: [Int32]

    private enum CodingKeys: String, CodingKey, CaseIterable { case name, tids }

    public init(from decoder: any Decoder) throws {
      try decoder.rejectUnknownKeys(CodingKeys.allCases.map(\.rawValue))
      let container = try decoder.container(keyedBy: CodingKeys.self)
      name = try container.decode(String.self, forKey: .name)
      tids = try container.decode([Int32].self, forKey: .tids)
    }
  }

  public struct Process: Decodable, Sendable {
    public var name: String
    /// The process that made it; nil for the root.
    public var parent: String?
    /// Its PID at each level of the tree it is in, outermost first.
    public var pids: [Int32]
    public var newPidNamespace: Bool
    /// The session leader's name; nil: its parent's session.
    public var session: String?
    /// The process-group leader's name; nil: its parent's group (its own after setsid()).
    public var group: String?
    public var threads: [Thread]

    private enum CodingKeys: String, CodingKey, CaseIterable {
      case name, parent, pids, newPidNamespace, session, group, threads
    }

    public init(from decoder: any Decoder) throws {
      try decoder.rejectUnknownKeys(CodingKeys.allCases.map(\.rawValue))
      let container = try decoder.container(keyedBy: CodingKeys.self)
      name = try container.decode(String.self, forKey: .name)
      parent = try container.decodeIfPresent(String.self, forKey: .parent)
      pids = try container.decode([Int32].self, forKey: .pids)
      newPidNamespace = try container.decodeIfPresent(Bool.self, forKey: .newPidNamespace) ?? false
      session = try container.decodeIfPresent(String.self, forKey: .session)
      group = try container.decodeIfPresent(String.self, forKey: .group)
      threads = try container.decodeIfPresent([Thread].self, forKey: .threads) ?? []
    }
  }

  /// What the tree is, in one sentence.
  public var title: String
  /// Where its shape comes from (a CRIU image, a capture with `scripts/capture-tree`).
  public var source: String?
  public var processes: [Process]

  private enum CodingKeys: String, CodingKey, CaseIterable { case title, source, processes }

  public init(from decoder: any Decoder) throws {
    try decoder.rejectUnknownKeys(CodingKeys.allCases.map(\.rawValue))
    let container = try decoder.container(keyedBy: CodingKeys.self)
    title = try container.decode(String.self, forKey: .title)
    source = try container.decodeIfPresent(String.self, forKey: .source)
    processes = try container.decode([Process].self, forKey: .processes)
  }

  /// `Fixtures/trees/NAME.json`.
  public static func load(_ name: String, from directory: URL = Fixtures.directory) throws
    -> TreeFixture
  {
    guard !name.isEmpty,
      name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_".contains($0)) })
    else { throw refusal(name, "a tree is named by letters, digits, '-' and '_'") }
    let data = try Data(contentsOf: directory.appendingPathComponent("trees/\(name).json"))
    do {
      return try JSONTree.decoder(for: data).decode(TreeFixture.self, from: data)
    } catch let error as DecodingError {
      throw refusal(name, FixtureError.describe(error))
    }
  }

  /// Why tree `name` cannot be restored, naming the offending entry; found before anything is
  /// cloned.
  static func refusal(_ name: String, _ message: String) -> FixtureError {
    FixtureError(file: "trees/\(name).json", message: message)
  }
}

/// The order in which a tree is made, and what each process and thread must then show: every
/// entry after its creator, a namespace's init before the other members, a group's leader
/// before its members; a process's threads right after it. Generic over every tree fixture.
public struct TreePlan: Sendable {
  public struct Entry: Sendable {
    /// `bash`, or `bash/worker` for a thread.
    public var name: String
    public var isThread: Bool
    /// The entry that makes this one; nil: the restorer.
    public var creator: Int?
    public var newPidNamespace: Bool
    /// PIDs (TIDs) per level, outermost first.
    public var pids: [Int32]
    /// Per level, the entry that is the init of this entry's namespace there.
    public var namespaces: [Int]
    var setsid = false
    /// setpgid(0, pgid) after setsid; 0 makes its own group.
    var setpgid: Int32?
    /// The status lines this entry must show, each per level of the tree, outermost first.
    public var expected: [(line: String, values: [Int32])] = []

    /// `process 'bash'` or `thread 'bash/worker'`.
    public var what: String { (isThread ? "thread" : "process") + " '\(name)'" }

    /// Its PID at `level`, if it is in `namespace` (that namespace's init entry) there.
    func pid(at level: Int, in namespace: Int) -> Int32? {
      namespaces.indices.contains(level) && namespaces[level] == namespace ? pids[level] : nil
    }
  }

  public var tree: String
  public var entries: [Entry]

  /// Records the restore sends: five per process (NSpid, NStgid, NSpgid, NSsid, PPid), two per
  /// thread.
  public var records: Int {
    entries.reduce(0) {
      $0 + Int($1.isThread ? KABI_TREE_THREAD_RECORDS : KABI_TREE_PROCESS_RECORDS)
    }
  }

  /// `kernel.pid_max` where the suite runs, which new namespaces inherit; PID_MAX_LIMIT (2^22)
  /// if unreadable.
  public static var pidMax: Int64 {
    let value = kabi_read_int("/proc/sys/kernel/pid_max")
    return value > 0 ? value : 4_194_304
  }

  /// Loads and plans `Fixtures/trees/NAME.json`.
  public init(named name: String, pidMax: Int64 = TreePlan.pidMax) throws {
    try self.init(TreeFixture.load(name), tree: name, pidMax: pidMax)
  }

  /// Plans `fixture`, refusing a tree the restorer cannot make exactly: every refusal names
  /// the entry.
  public init(_ fixture: TreeFixture, tree: String, pidMax: Int64) throws(FixtureError) {
    self.tree = tree
    func refuse(_ message: String) -> FixtureError { TreeFixture.refusal(tree, message) }
    let processes = fixture.processes
    var index: [String: Int] = [:]
    for (position, process) in processes.enumerated() {
      let names = [process.name] + process.threads.map { "\(process.name)/\($0.name)" }
      for name in names {
        guard index[name] == nil else { throw refuse("two entries are named '\(name)'") }
        index[name] = position
      }
    }
    let roots = processes.filter { $0.parent == nil }
    guard roots.count == 1, let root = roots.first else {
      throw refuse(
        "a tree has one root, PID 1 of level 0 (the process without a parent), not "
          + "\(roots.count)"
          + (roots.isEmpty ? "" : ": " + roots.map { "'\($0.name)'" }.joined(separator: ", ")))
    }
    guard root.pids == [1] else {
      throw refuse(
        "process '\(root.name)': the root is PID 1 of the tree's outermost namespace, so its "
          + "PIDs are [1], not \(root.pids)")
    }
    // Each process's parent, session leader and group leader, by fixture position.
    var links: [(parent: Int?, session: Int?, group: Int?)] = []
    for process in processes {
      func named(_ name: String?, as role: String) throws(FixtureError) -> Int? {
        guard let name else { return nil }
        guard let found = index[name], processes[found].name == name else {
          throw refuse("process '\(process.name)': its \(role) '\(name)' is no process of the tree")
        }
        return found
      }
      links.append(
        try (
          named(process.parent, as: "parent"), named(process.session, as: "session leader"),
          named(process.group, as: "group leader")
        ))
    }
    // Place every process after its parent and its group's leader: each time the first of the
    // fixture's order that can be made.
    var placed: [Int: Int] = [:]  // fixture position -> entry of the process
    var sessions: [Int: Int] = [:]  // fixture position -> session leader's; none: the restorer's
    var groups: [Int: Int] = [:]
    var entries: [Entry] = []
    var pending = Array(processes.indices)
    while !pending.isEmpty {
      let ready = pending.firstIndex { position in
        (links[position].parent.map { placed[$0] != nil } ?? true)
          && (links[position].group.map { $0 == position || placed[$0] != nil } ?? true)
      }
      guard let ready else {
        let process = processes[pending[0]]
        throw refuse(
          "process '\(process.name)' can never be made: its parent "
            + "'\(process.parent ?? "")' or group leader '\(process.group ?? "")' waits for it "
            + "(a cycle)")
      }
      let position = pending.remove(at: ready)
      let process = processes[position]
      let (parent, sessionLeader, groupLeader) = links[position]
      let creator = parent.flatMap { placed[$0] }
      let newNamespace = process.newPidNamespace || parent == nil
      let namespaces =
        (creator.map { entries[$0].namespaces } ?? []) + (newNamespace ? [entries.count] : [])
      guard process.pids.count == namespaces.count else {
        let parentWords =
          creator.map { "its parent is at \(entries[$0].pids.count) levels" } ?? "the root"
        throw refuse(
          "process '\(process.name)' has \(process.pids.count) PIDs but is in "
            + "\(namespaces.count) namespace levels (\(parentWords)"
            + (newNamespace
              ? ", plus the namespace it is PID 1 of)" : ", and it makes no namespace)"))
      }
      guard namespaces.count <= Int(KABI_TREE_LEVELS) else {
        throw refuse(
          "process '\(process.name)' is \(namespaces.count) levels deep: at most \(KABI_TREE_LEVELS)"
        )
      }
      if newNamespace, let innermost = process.pids.last, innermost != 1 {
        throw refuse(
          "process '\(process.name)' would be the first process of its namespace at level "
            + "\(namespaces.count - 1) with PID \(innermost): a namespace's first process is its "
            + "init, PID 1, and no PID is given before the init exists")
      }
      var entry = Entry(
        name: process.name, isThread: false, creator: creator, newPidNamespace: newNamespace,
        pids: process.pids, namespaces: namespaces)
      // Session: its own (setsid) or its parent's.
      let parentSession = parent.flatMap { sessions[$0] }
      if sessionLeader == position {
        entry.setsid = true
      } else if sessionLeader != nil && sessionLeader != parentSession {
        throw refuse(
          "process '\(process.name)': its session '\(process.session ?? "")' is neither its "
            + "own (setsid) nor its parent's"
            + (parentSession.map { " ('\(processes[$0].name)')" } ?? " (the restorer's)"))
      }
      let session = entry.setsid ? position : parentSession
      // Group: its own, its parent's, or an earlier group of its session it joins.
      var group = parent.flatMap { groups[$0] }
      if entry.setsid {
        guard groupLeader == nil || groupLeader == position else {
          throw refuse(
            "process '\(process.name)' leads a session, so it leads its own group, not "
              + "'\(process.group ?? "")'")
        }
        group = position
      } else if groupLeader == position {
        entry.setpgid = 0
        group = position
      } else if let leader = groupLeader, leader != group, let leaderIndex = placed[leader] {
        guard groups[leader] == leader else {
          throw refuse(
            "process '\(process.name)': its group leader '\(processes[leader].name)' does not "
              + "lead its own group")
        }
        guard sessions[leader] == session else {
          throw refuse(
            "process '\(process.name)': its group leader '\(processes[leader].name)' is in "
              + "another session (setpgid joins groups of its own session only)")
        }
        let level = namespaces.count - 1
        guard let pgid = entries[leaderIndex].pid(at: level, in: namespaces[level]) else {
          throw refuse(
            "process '\(process.name)': its group leader '\(processes[leader].name)' is not in "
              + "its PID namespace, so setpgid cannot name it")
        }
        entry.setpgid = pgid
        group = leader
      }
      let number = entries.count
      (sessions[position], groups[position], placed[position]) = (session, group, number)
      entries.append(entry)
      // What it must show: a leader's PID where the leader is in the namespace, else 0.
      func seen(_ leader: Int?) -> [Int32] {
        let shown = leader.flatMap { placed[$0] }.map { entries[$0] }
        return namespaces.indices.map { shown?.pid(at: $0, in: namespaces[$0]) ?? 0 }
      }
      entries[number].expected = [
        ("NSpid", process.pids), ("NStgid", process.pids), ("NSpgid", seen(group)),
        ("NSsid", seen(session)),
      ]
      // Its threads come right after it: it makes them before the next process is made.
      for thread in process.threads {
        let name = "\(process.name)/\(thread.name)"
        guard thread.tids.count == process.pids.count else {
          throw refuse(
            "thread '\(name)' has \(thread.tids.count) TIDs; its process is at "
              + "\(process.pids.count) levels")
        }
        entries.append(
          Entry(
            name: name, isThread: true, creator: number, newPidNamespace: false,
            pids: thread.tids, namespaces: namespaces,
            expected: [("NSpid", thread.tids), ("NStgid", process.pids)]))
      }
    }
    guard entries.count <= Int(KABI_TREE_ENTRIES) else {
      throw refuse("\(entries.count) processes and threads: at most \(KABI_TREE_ENTRIES)")
    }
    // One PID per namespace and level, and every PID below pid_max.
    var owners: [String: Int] = [:]
    for (number, entry) in entries.enumerated() {
      for (level, pid) in entry.pids.enumerated() {
        guard pid >= 1, Int64(pid) < pidMax else {
          throw refuse(
            "\(entry.what): \(entry.isThread ? "TID" : "PID") \(pid) at level \(level) is not in "
              + "1..<pid_max (\(pidMax))")
        }
        let key = "\(entry.namespaces[level]):\(pid)"
        if let other = owners[key] {
          let namespace = entries[entry.namespaces[level]].name
          throw refuse(
            "\(entry.what) has \(entry.isThread ? "TID" : "PID") \(pid) at level \(level) (the "
              + "namespace of '\(namespace)'), which \(entries[other].what) has too")
        }
        owners[key] = number
      }
    }
    self.entries = entries
  }
}

/// A plan in memory mapped MAP_SHARED, which every process of the tree writes its progress
/// to, and a stack slot for each entry above a guard page; unmapped with this value, unless a
/// sandbox that may still run on them was not reaped (`keepMapped`).
public final class TreePlanMemory: @unchecked Sendable {
  private let plan: UnsafeMutablePointer<kabi_tree_plan>
  private var mapped = true

  public init(_ tree: TreePlan) throws(ProgramError) {
    var mapping: UnsafeMutablePointer<kabi_tree_plan>?
    let result = kabi_tree_map(UInt32(tree.entries.count), &mapping)
    guard result == 0, let mapping else {
      throw ProgramError(
        "mapping the tree's plan and stacks (mmap, mprotect): \(Errno(rawValue: Int32(-result)))")
    }
    plan = mapping
    let entries = tree.entries.enumerated().map { index, entry in
      var c = kabi_tree_entry()
      c.parent = entry.creator.map(Int32.init) ?? Int32(KABI_TREE_RESTORER)
      c.thread = entry.isThread ? 1 : 0
      c.new_pid_ns = entry.newPidNamespace ? 1 : 0
      c.set_tid_size = Int32(entry.pids.count)
      storeArray(entry.pids.reversed(), into: &c.set_tid)
      c.setsid = entry.setsid ? 1 : 0
      c.setpgid = entry.setpgid == nil ? 0 : 1
      c.pgid = entry.setpgid ?? 0
      storeArray(tree.writers(of: index).reversed(), into: &c.writer)
      return c
    }
    storeArray(entries, into: &plan.pointee.entries)
    storeArray(tree.noisePids(pidMax: TreePlan.pidMax), into: &plan.pointee.noise_pid)
  }

  deinit { if mapped { kabi_tree_unmap(plan) } }

  /// Leaves the memory mapped: a sandbox that was killed but not reaped may still run on it.
  public func keepMapped() { mapped = false }

  /// Where the restore operation finds the plan.
  public var address: Int64 { Int64(Int(bitPattern: plan)) }

  /// What clone3 returned to entry `index`'s creator.
  public func result(_ index: Int) -> Int64 {
    withUnsafeBytes(of: plan.pointee.result) { $0.bindMemory(to: Int64.self)[index] }
  }

  /// The entry that could not be made or set up, what failed, and its errno.
  public var failure: (entry: Int, call: String, errno: Errno)? {
    guard plan.pointee.failed != 0 else { return nil }
    let call =
      switch UInt32(plan.pointee.failed_what) {
      case KABI_TREE_FAILED_SETSID.rawValue: "setsid()"
      case KABI_TREE_FAILED_SETPGID.rawValue: "setpgid()"
      case KABI_TREE_FAILED_NS_LAST_PID.rawValue: "a write to ns_last_pid"
      case KABI_TREE_FAILED_NOISE.rawValue: "clone3 of a noise process (scripts/bench)"
      default: "clone3"
      }
    return (
      Int(plan.pointee.failed_entry), call,
      Errno(rawValue: Int32(truncatingIfNeeded: -plan.pointee.failed_errno))
    )
  }
}

extension TreePlan {
  /// For the older route (scripts/bench): per level of entry `index`, outermost first, the
  /// entry that writes its PID there minus one to ns_last_pid, a process of that level's
  /// namespace: its creator where the creator lives in it, else the namespace's init;
  /// `KABI_TREE_NO_WRITER` for the namespace the entry itself makes (it is PID 1 there).
  public func writers(of index: Int) -> [Int32] {
    let entry = entries[index]
    return entry.namespaces.indices.map { level in
      if entry.newPidNamespace && level == entry.namespaces.count - 1 {
        return Int32(KABI_TREE_NO_WRITER)
      }
      if let creator = entry.creator, entries[creator].namespaces.last == entry.namespaces[level] {
        return Int32(creator)
      }
      return Int32(entry.namespaces[level])
    }
  }

  /// PIDs in the tree's outermost namespace that no entry has, the highest below `pidMax`
  /// first: where the noise processes of scripts/bench live.
  public func noisePids(pidMax: Int64) -> [Int32] {
    let used = Set(entries.compactMap(\.pids.first))
    let free = stride(from: Int32(clamping: pidMax - 1), to: 1, by: -1).lazy.filter {
      !used.contains($0)
    }
    return Array(free.prefix(Int(KABI_TREE_NOISE_MAX)))
  }

  /// Whether the tree restored exactly: the first few differences, each naming the process
  /// (or thread), the status line and the level; nil when every entry showed what the fixture
  /// says. Every entry must report its own getpid() (gettid()) as the last NSpid entry, its
  /// PPid must be its creator's PID, and clone3 must have returned to the creator the PID the
  /// entry has in the creator's namespace.
  ///
  /// - Throws: BROKEN when an entry could not be made for want of resources (EAGAIN: a small
  ///   RLIMIT_NPROC, no PIDs left): the tree's premise, room for it, failed.
  public func problem(in run: SandboxRun, step: Int32, memory: TreePlanMemory)
    throws(CaseBroken) -> String?
  {
    if run.unreaped { memory.keepMapped() }
    if let failure = memory.failure, failure.entry >= 0, failure.entry < entries.count {
      let entry = entries[failure.entry]
      let creator = entry.creator.map { entries[$0].what } ?? "the restorer"
      let request =
        failure.call == "clone3"
        ? " by \(creator) with set_tid [\(Observation.spell(entry.pids.reversed()))] "
          + "(innermost first\(entry.newPidNamespace ? ", CLONE_NEWPID" : ""))" : ""
      let words = "\(entry.what) of tree \(tree) could not be made: \(failure.call)\(request)"
      if failure.errno == .EAGAIN {
        throw CaseBroken(step: words, errno: failure.errno, syscall: "clone3")
      }
      return "tree \(tree): \(words) answered \(failure.errno)"
    }
    var lines: [Int: [String: SandboxReport]] = [:]
    for record in run.reports(.status) where record.step == step {
      guard record.value >= 0, record.value < Int64(entries.count), let name = record.name else {
        return "tree \(tree): a status record names entry \(record.value), which the plan lacks"
      }
      lines[Int(record.value), default: [:]][name] = record
    }
    let restorer = run.reports(.call).first { $0.step == step }?.nspid?.first
    func entryProblem(_ index: Int) -> String? {
      let entry = entries[index]
      let got = lines[index] ?? [:]
      guard let nspidRecord = got["NSpid"], let nspid = nspidRecord.nspid, let own = nspid.last
      else { return "\(entry.what) did not report its NSpid" }
      guard own == nspidRecord.pid else {
        return "\(entry.what) reports \(entry.isThread ? "gettid()" : "getpid()") "
          + "\(nspidRecord.pid) but its NSpid \(Observation.spell(nspid)) ends with \(own)"
      }
      for (line, values) in entry.expected {
        guard let numbers = got[line]?.nspid, numbers.count >= values.count else {
          return "\(entry.what) did not report its \(line) for \(values.count) levels"
        }
        let seen = Array(numbers.suffix(values.count))
        guard let level = seen.indices.first(where: { seen[$0] != values[$0] }) else { continue }
        let namespace = entries[entry.namespaces[level]].name
        return "\(entry.what) at level \(level) (the namespace of '\(namespace)'): \(line) is "
          + "\(seen[level]), the fixture says \(values[level]) (\(line) from the tree's outermost "
          + "level: \(Observation.spell(seen)), fixture: \(Observation.spell(values)))"
      }
      let returned = memory.result(index)
      if let pid = nspid.dropLast(entry.newPidNamespace ? 1 : 0).last, returned != Int64(pid) {
        return "clone3 returned \(returned) to the creator of \(entry.what), whose NSpid "
          + "\(Observation.spell(nspid)) gives \(pid) at its creator's level"
      }
      let parentPid = entry.creator.map { lines[$0]?["NSpid"]?.nspid?.first } ?? restorer
      guard !entry.isThread, let ppid = got["PPid"]?.nspid?.first, let parentPid, ppid != parentPid
      else { return nil }
      let parent = entry.creator.map { entries[$0].what } ?? "the restorer"
      return "\(entry.what) has PPid \(ppid), but its parent, \(parent), is PID \(parentPid)"
    }
    let problems = entries.indices.lazy.compactMap(entryProblem).prefix(4)
    guard !problems.isEmpty else { return nil }
    return "tree \(tree): " + problems.joined(separator: "; ")
  }
}

extension CompiledProgram {
  /// What the program's tree steps observed wrongly, or nil (also for a program without one).
  func treeProblem(in run: SandboxRun) throws(CaseBroken) -> String? {
    for (step, tree) in trees.sorted(by: { $0.key < $1.key }) {
      guard let memory = tree.memory else { continue }
      if let problem = try tree.plan.problem(in: run, step: step, memory: memory) {
        return problem
      }
    }
    return nil
  }

  /// The sandbox timeout a program with trees needs: the usual 10 s, plus 250 ms for each
  /// process and thread, which the restore makes one after the other (an emulated machine
  /// takes tens of milliseconds for each; natively they take well under one); 0 without trees.
  var treeTimeoutMilliseconds: Int32 {
    let entries = trees.values.reduce(0) { $0 + $1.plan.entries.count }
    return entries == 0 ? 0 : Int32(10_000 + 250 * entries)
  }

  /// The records a run of this program may send: the suite's usual 128, plus every record of
  /// its trees.
  var maxReports: Int { 128 + trees.values.reduce(0) { $0 + $1.plan.records } }
}

extension ProgramCall {
  /// PID-namespace levels the program's trees add below the sandbox (0 without a tree); throws
  /// for a tree file that does not load, which its table refused already as it loaded.
  func treeLevels() throws -> Int {
    try steps.compactMap { step -> Int? in
      guard
        Operation.registered[step.op]?.parameters.contains(where: { $0.kind == KABI_ARG_TREE })
          == true, case .text(let name)? = step.args["tree"]
      else { return nil }
      return try TreeFixture.load(name).processes.map(\.pids.count).max()
    }.max() ?? 0
  }
}
