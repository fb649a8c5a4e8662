import CKernelABI
import ConformanceSupport
import Foundation
import KernelABI
import Testing

/// Cost of restoring processes at chosen PIDs, and how often the ns_last_pid route misses under
/// contention; `scripts/bench trees` runs it. It prints, and checks only that the runs worked
/// and that set_tid placed every process exactly.
@Suite struct TreeBenchmark {
  static let runs = ProcessInfo.processInfo.environment["PIDNS_BENCH_TREES"].flatMap { Int($0) }

  static let methods = [(0, "set_tid"), (1, "ns_last_pid+clone3"), (2, "clone3 (no PID chosen)")]
  static let treeMethods = [(0, "set_tid"), (1, "ns_last_pid+clone3")]
  static let floor = "clone3 (no PID chosen)"

  /// A sample's median, quartiles and minimum.
  struct Spread {
    var median = 0.0
    var q1 = 0.0
    var q3 = 0.0
    var min = 0.0
    var count = 0

    init(_ values: [Double]) {
      let sorted = values.sorted()
      guard !sorted.isEmpty else { return }
      // Linear between the closest ranks (numpy's default), so 3 runs give 3 distinct figures.
      func rank(_ q: Double) -> Double {
        let at = Double(sorted.count - 1) * q
        let (low, high) = (Int(at.rounded(.down)), Int(at.rounded(.up)))
        return sorted[low] + (sorted[high] - sorted[low]) * (at - Double(low))
      }
      (median, q1, q3, min, count) = (rank(0.5), rank(0.25), rank(0.75), sorted[0], sorted.count)
    }

    /// `12.3 µs [11.9–13.0, min 11.2]` for a value in `unit`s.
    func words(_ unit: Double, _ name: String, digits: Int = 1) -> String {
      String(
        format: "%.*f %@ [IQR %.*f–%.*f, min %.*f]", digits, median / unit, name, digits,
        q1 / unit, digits, q3 / unit, digits, min / unit)
    }

    var json: [String: Any] { ["median": median, "q1": q1, "q3": q3, "min": min, "n": count] }
  }

  static func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
  }

  /// The fields the program's first step reported, by name, and what it returned.
  static func fields(of run: SandboxRun) -> (fields: [String: Int64], returned: Int64?) {
    let step = Int32(KABI_PROGRAM_FIRST_STEP)
    var fields: [String: Int64] = [:]
    for field in run.reports(.field) where field.step == step {
      fields[field.name ?? "?"] = field.value
    }
    return (fields, run.reports(.call).first { $0.step == step }?.value)
  }

  /// One `race` run: its fields by name.
  static func race(method: Int, targets: Int, noise: Int, levels: Int) throws -> [String: Int64] {
    let call = ProgramCall(
      levels: .levels(levels),
      steps: [
        .init(
          "race",
          args: [
            "method": .number(Int64(method)), "targets": .number(Int64(targets)),
            "noise": .number(Int64(noise)), "counts": .number(1),
          ])
      ])
    let run = try call.run()
    try #require(run.damage == nil && run.exitCode == 0, "race: \(run.reports)")
    return fields(of: run).fields
  }

  /// One restore of a tree by `method` (0 set_tid, 1 ns_last_pid + clone3) beside `noise`
  /// forkers: the time until its last entry was made, per entry, and the entries it did not
  /// place at their PIDs.
  struct TreeRun {
    var nanosecondsPerEntry: Double
    var wall: Double
    var misplaced: [String]
    var eexist: Int64
    var loose: Int64
  }

  /// The entries of `plan` that did not end at their PID (TID) at every level of the tree, by
  /// their NSpid records: what the older route's misplacements are counted from. An entry that
  /// did not report counts too.
  static func misplaced(_ plan: TreePlan, in run: SandboxRun, step: Int32) -> [String] {
    var nspids: [Int: [Int32]] = [:]
    for record in run.reports(.status)
    where record.step == step && record.name == "NSpid" && record.value >= 0
      && record.value < Int64(plan.entries.count)
    {
      nspids[Int(record.value)] = record.nspid
    }
    return plan.entries.indices.compactMap { index in
      let entry = plan.entries[index]
      guard let nspid = nspids[index], nspid.count >= entry.pids.count,
        Array(nspid.suffix(entry.pids.count)) == entry.pids
      else { return entry.name }
      return nil
    }
  }

  static func restore(_ tree: String, method: Int, noise: Int) throws -> TreeRun {
    let call = ProgramCall(steps: [
      .init(
        "restore",
        args: [
          "tree": .text(tree), "method": .number(Int64(method)), "noise": .number(Int64(noise)),
          "timing": .number(1),
        ])
    ])
    let compiled = try CompiledProgram(call)
    let clock = ContinuousClock()
    let start = clock.now
    let run = try withExtendedLifetime(compiled) { try call.run(compiled) }
    let wall = seconds(clock.now - start)
    let step = Int32(KABI_PROGRAM_FIRST_STEP)
    let tree = try #require(compiled.trees[step])
    let memory = try #require(tree.memory)
    if run.unreaped { memory.keepMapped() }
    try #require(run.damage == nil, "restore \(tree.plan.tree): \(run.reports)")
    try call.requireSetUp(run)
    let (fields, returned) = fields(of: run)
    let count = tree.plan.entries.count
    try #require(
      returned == Int64(count),
      "restore \(tree.plan.tree) by method \(method): \(String(describing: memory.failure))")
    let misplaced = Self.misplaced(tree.plan, in: run, step: step)
    if method == 0 {
      // set_tid keeps exact placement, quiet or beside noise: every line, every level.
      #expect(misplaced.isEmpty, "set_tid placed \(misplaced) at another PID")
      let problem = try tree.plan.problem(in: run, step: step, memory: memory)
      #expect(problem == nil, "\(problem ?? "")")
    }
    let nanoseconds = try #require(fields["nanoseconds"].flatMap { $0 > 0 ? $0 : nil })
    return TreeRun(
      nanosecondsPerEntry: Double(nanoseconds) / Double(max(1, count)), wall: wall,
      misplaced: misplaced, eexist: fields["eexist"] ?? 0, loose: fields["loose"] ?? 0)
  }

  @Test(.enabled(if: runs != nil, "a benchmark: scripts/bench trees runs it"))
  func `restore cost and the ns_last_pid race`() throws {
    let runs = max(1, Self.runs ?? 1)
    var json: [String: Any] = ["runs": runs]
    json["levels"] = try Self.placements(runs: runs)
    json["trees"] = try Self.trees(runs: runs)
    json["race"] = try Self.contention(runs: runs)
    let data = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
    print("bench-json: " + String(decoding: data, as: UTF8.self))
    if let path = ProcessInfo.processInfo.environment["PIDNS_BENCH_COMPARE"] {
      try Self.compare(json, with: path)
    }
  }

  /// One placement at nesting levels 1, 3, 8 and 32 (as far as they fit here), no contention:
  /// each round is one sandbox whose 30 placements are each made by all three methods in turn
  /// (the order rotating), so the methods meet the same moment of the machine; more rounds at
  /// the cheap small levels. Per method the median of the rounds' mean placement, its IQR and
  /// the fastest single placement; the ratio to the floor is taken within each round.
  static func placements(runs: Int) throws -> [[String: Any]] {
    let room = Int(KABI_MAX_PID_NS_LEVEL) - (TestEnvironment.pidNamespaceLevel ?? 0)
    let targets = 30
    var levels: [[String: Any]] = []
    for depth in [1, 3, 8, 32] where depth <= room {
      let rounds = runs * (depth == 1 ? 4 : depth == 3 ? 3 : depth == 8 ? 2 : 1)
      var each: [String: [Double]] = [:]
      var fastest: [String: Double] = [:]
      var ratios: [String: [Double]] = [:]
      for _ in 0..<rounds {
        let fields = try Self.race(method: 3, targets: targets, noise: 0, levels: depth)
        var round: [String: Double] = [:]
        for (method, name) in Self.methods {
          round[name] = Double(fields["ns\(method)"] ?? 0) / Double(targets)
          each[name, default: []].append(round[name] ?? 0)
          let best = Double(fields["min\(method)"] ?? 0)
          fastest[name] = min(fastest[name] ?? best, best)
        }
        for (_, name) in Self.methods {
          ratios[name, default: []].append((round[name] ?? 0) / max(1, round[Self.floor] ?? 1))
        }
      }
      print(
        "bench: one placement at level \(depth), \(rounds) rounds of \(targets) interleaved:")
      var medians: [String: Double] = [:]
      var spreads: [String: Any] = [:]
      var ratioMedians: [String: Any] = [:]
      var fastestRatios: [String: Double] = [:]
      for (_, name) in Self.methods {
        var spread = Spread(each[name] ?? [])
        spread.min = fastest[name] ?? spread.min
        let ratio = Spread(ratios[name] ?? [])
        // The fastest placements' ratio: what load on a shared machine moves least.
        let best = spread.min / max(1, fastest[Self.floor] ?? 1)
        medians[name] = spread.median
        spreads[name] = spread.json
        ratioMedians[name] = ratio.json
        fastestRatios[name] = best
        print(
          "bench:   \(name.padding(toLength: 23, withPad: " ", startingAt: 0)) "
            + spread.words(1e3, "µs") + ", " + String(format: "%.2fx", ratio.median)
            + String(
              format: " of the floor [IQR %.2f–%.2f], fastest %.2fx", ratio.q1, ratio.q3, best))
      }
      levels.append([
        "levels": depth, "rounds": rounds, "nanosecondsPerPlacement": medians,
        "spread": spreads, "ratioToFloor": ratioMedians, "fastestRatioToFloor": fastestRatios,
      ])
    }
    return levels
  }

  /// Every tree the table restores, `runs` times by each route, quiet and beside two noise
  /// forkers in the tree's outermost namespace, the routes alternating which goes first.
  static func trees(runs: Int) throws -> [[String: Any]] {
    var trees: [[String: Any]] = []
    let table = try Fixtures.load("tree-restore.json")
    for row in table.cases {
      guard let step = row.call.steps.first(where: { $0.op == "restore" }),
        case .text(let tree)? = step.args["tree"]
      else { continue }
      let entries = try TreePlan(named: tree).entries.count
      var result: [String: Any] = ["id": row.id, "tree": tree, "entries": entries]
      for noise in [0, 2] {
        var times: [String: [Double]] = [:]
        var walls: [Double] = []
        var ratios: [Double] = []
        var misplaced: [String: Int] = [:]
        var restores: [String: Int] = [:]
        var eexist: Int64 = 0
        var loose: Int64 = 0
        var example = ""
        for round in 0..<runs {
          var perEntry: [Int: Double] = [:]
          for (method, name) in round % 2 == 0 ? Self.treeMethods : Self.treeMethods.reversed() {
            let run = try Self.restore(tree, method: method, noise: noise)
            perEntry[method] = run.nanosecondsPerEntry
            times[name, default: []].append(run.nanosecondsPerEntry)
            if method == 0 { walls.append(run.wall) }
            misplaced[name, default: 0] += run.misplaced.count
            restores[name, default: 0] += 1
            eexist += run.eexist
            loose += run.loose
            if example.isEmpty, let first = run.misplaced.first { example = first }
          }
          ratios.append((perEntry[1] ?? 0) / max(1, perEntry[0] ?? 1))
        }
        let ratio = Spread(ratios)
        let setting = noise == 0 ? "quiet" : "beside \(noise) forkers"
        print(
          "bench: tree \(tree) (\(entries) processes and threads), \(runs) restores each, \(setting):"
        )
        var methods: [String: Any] = [:]
        for (_, name) in Self.treeMethods {
          let spread = Spread(times[name] ?? [])
          let wrong = misplaced[name] ?? 0
          let tried = (restores[name] ?? 0) * entries
          print(
            "bench:   \(name.padding(toLength: 18, withPad: " ", startingAt: 0)) "
              + spread.words(1e3, "µs per process") + ", \(wrong) of \(tried) at another PID")
          methods[name] = ["nanosecondsPerEntry": spread.json, "wrong": wrong, "tried": tried]
        }
        print(
          String(
            format: "bench:   ns_last_pid+clone3 / set_tid: %.2fx [IQR %.2f–%.2f]", ratio.median,
            ratio.q1, ratio.q3)
            + (noise > 0 ? "; set_tid retried \(eexist) clone3 calls after EEXIST" : "")
            + (loose > 0 ? "; ns_last_pid's setsid/setpgid failed \(loose) times" : "")
            + (example.isEmpty ? "" : "; e.g. '\(example)' misplaced"))
        var record: [String: Any] = [
          "methods": methods, "ratio": ratio.json, "eexistRetries": eexist, "looseGroups": loose,
        ]
        if noise == 0 {
          record["medianSeconds"] = Spread(walls).median
          result["medianSeconds"] = Spread(walls).median
        }
        result[noise == 0 ? "quiet" : "noise"] = record
      }
      trees.append(result)
    }
    return trees
  }

  /// Contention: two processes fork without pause while 200 placements are made.
  static func contention(runs: Int) throws -> [[String: Any]] {
    var race: [[String: Any]] = []
    for (method, name) in Self.methods.prefix(2) {
      var totals: [String: Int64] = [:]
      for _ in 0..<runs {
        let fields = try Self.race(method: method, targets: 200, noise: 2, levels: 1)
        for (key, value) in fields { totals[key, default: 0] += value }
      }
      let tried = Int64(runs * 200)
      print(
        "bench: \(name) beside 2 forkers: \(totals["placed"] ?? 0) of \(tried) at the chosen PID, "
          + "\(totals["wrong"] ?? 0) at another PID, \(totals["eexist"] ?? 0) EEXIST, "
          + "\(totals["failed"] ?? 0) other errors; "
          + String(format: "%.1f µs each", Double(totals["nanoseconds"] ?? 0) / Double(tried) / 1e3)
      )
      race.append(["method": name, "tried": tried, "counts": totals])
    }
    return race
  }

  /// Prints each figure of this run against the same figure of an earlier `--json` file: the
  /// earlier value, this one and their ratio (below 1: faster now), and the earlier run's kernel
  /// and load beside them, so a kernel upgrade's cost is read from one place.
  static func compare(_ now: [String: Any], with path: String) throws {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    guard let before = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
      throw CompareError(path: path)
    }
    print(
      "bench: against \(path) (kernel \(before["kernel"] ?? "?"), load \(before["load"] ?? "?"), "
        + "\(before["runs"] ?? "?") runs):")
    func line(_ what: String, _ old: Double?, _ new: Double?, unit: Double, _ name: String) {
      guard let old, let new, old > 0 else { return }
      print(
        String(
          format: "bench:   %@: %.1f → %.1f %@ (%.2fx)", what, old / unit, new / unit, name,
          new / old))
    }
    // Per tree: the set_tid restore's wall time (sandbox included), and each route's time per
    // process and misplacements, quiet and beside noise (files from before they were measured
    // give the wall time only).
    func trees(_ json: [String: Any]) -> [String: [String: Any]] {
      Dictionary(
        ((json["trees"] as? [[String: Any]]) ?? []).compactMap { tree in
          (tree["id"] as? String).map { ($0, tree) }
        }, uniquingKeysWith: { $1 })
    }
    let (oldTrees, newTrees) = (trees(before), trees(now))
    for id in newTrees.keys.sorted() {
      let (old, new) = (oldTrees[id], newTrees[id])
      line(
        "tree \(id)", old?["medianSeconds"] as? Double, new?["medianSeconds"] as? Double,
        unit: 1e-3, "ms")
      for setting in ["quiet", "noise"] {
        let oldMethods = (old?[setting] as? [String: Any])?["methods"] as? [String: Any]
        let newMethods = (new?[setting] as? [String: Any])?["methods"] as? [String: Any]
        for (_, name) in Self.treeMethods {
          let o = oldMethods?[name] as? [String: Any]
          let n = newMethods?[name] as? [String: Any]
          func median(_ m: [String: Any]?) -> Double? {
            (m?["nanosecondsPerEntry"] as? [String: Any])?["median"] as? Double
          }
          line("tree \(id) \(setting), \(name) per process", median(o), median(n), unit: 1e3, "µs")
          if let o, let n {
            print(
              "bench:   tree \(id) \(setting), \(name) at another PID: \(o["wrong"] ?? "?") of "
                + "\(o["tried"] ?? "?") → \(n["wrong"] ?? "?") of \(n["tried"] ?? "?")")
          }
        }
      }
    }
    // In the order the run measured them: level 1, 3, 8, 32, each method by name.
    func placements(_ json: [String: Any]) -> [(key: String, value: Double)] {
      ((json["levels"] as? [[String: Any]]) ?? []).flatMap { level in
        ((level["nanosecondsPerPlacement"] as? [String: Double]) ?? [:]).sorted { $0.key < $1.key }
          .map { (key: "level \(level["levels"] ?? "?"), \($0.key)", value: $0.value) }
      }
    }
    let oldLevels = Dictionary(
      placements(before).map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
    for (key, value) in placements(now) {
      line("one placement at \(key)", oldLevels[key], value, unit: 1e3, "µs")
    }
    func wrong(_ json: [String: Any]) -> [String: String] {
      Dictionary(
        ((json["race"] as? [[String: Any]]) ?? []).compactMap { entry in
          guard let method = entry["method"] as? String else { return nil }
          let counts = entry["counts"] as? [String: Any]
          return (method, "\(counts?["wrong"] ?? "?") of \(entry["tried"] ?? "?")")
        }, uniquingKeysWith: { $1 })
    }
    let (oldWrong, newWrong) = (wrong(before), wrong(now))
    for method in newWrong.keys.sorted() {
      print(
        "bench:   \(method) at another PID beside 2 forkers: \(oldWrong[method] ?? "?") → "
          + "\(newWrong[method] ?? "?")")
    }
  }

  struct CompareError: Error, CustomStringConvertible {
    var path: String
    var description: String { "\(path) is not a JSON object written by scripts/bench --json" }
  }
}
