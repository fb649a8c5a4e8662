import CKernelABI
import ConformanceSupport
import Foundation
import KernelABI
import Testing

/// Cost of restoring processes at chosen PIDs, and how often the ns_last_pid route misses under
/// contention; `scripts/bench trees` runs it. It prints, and checks only that the runs worked.
@Suite struct TreeBenchmark {
  static let runs = ProcessInfo.processInfo.environment["PIDNS_BENCH_TREES"].flatMap { Int($0) }

  static let methods = [(0, "set_tid"), (1, "ns_last_pid+clone3"), (2, "clone3 (no PID chosen)")]

  static func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
  }

  static func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
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
    var fields: [String: Int64] = [:]
    for field in run.reports(.field) { fields[field.name ?? "?"] = field.value }
    return fields
  }

  @Test(.enabled(if: runs != nil, "a benchmark: scripts/bench trees runs it"))
  func `restore cost and the ns_last_pid race`() throws {
    let runs = max(1, Self.runs ?? 1)
    var json: [String: Any] = ["runs": runs]
    // Whole trees: every tree the table restores, `runs` times each.
    var trees: [[String: Any]] = []
    let table = try Fixtures.load("tree-restore.json", as: ProgramCall.self)
    for row in table.cases where row.call.steps.contains(where: { $0.op == "restore" }) {
      var times: [Double] = []
      var entries = 0
      for _ in 0..<runs {
        let compiled = try CompiledProgram(row.call)
        entries = compiled.trees.values.first?.plan.entries.count ?? 0
        let clock = ContinuousClock()
        let start = clock.now
        let run = try withExtendedLifetime(compiled) { try row.call.run(compiled) }
        times.append(Self.seconds(clock.now - start))
        try #require(
          run.damage == nil
            && (try row.call.observation(of: run, compiled: compiled)).brokenReason == nil)
      }
      let median = Self.median(times)
      print(
        String(
          format: "bench: tree %@: %d processes and threads, median %.1f ms (%.0f µs each)",
          row.id, entries, median * 1e3, median * 1e6 / Double(max(1, entries))))
      trees.append(["id": row.id, "entries": entries, "medianSeconds": median])
    }
    json["trees"] = trees
    // One placement at nesting levels 1, 3, 8 and 32 (as far as they fit here), no contention.
    let room = Int(KABI_MAX_PID_NS_LEVEL) - (TestEnvironment.pidNamespaceLevel ?? 0)
    var levels: [[String: Any]] = []
    for depth in [1, 3, 8, 32] where depth <= room {
      var perMethod: [String: Double] = [:]
      for (method, name) in Self.methods {
        let each = try (0..<runs).map { _ in
          let fields = try Self.race(method: method, targets: 50, noise: 0, levels: depth)
          return Double(fields["nanoseconds"] ?? 0) / 50
        }
        perMethod[name] = Self.median(each)
      }
      let floor = perMethod["clone3 (no PID chosen)"] ?? 1
      print(
        "bench: one placement at level \(depth): "
          + Self.methods.map { _, name in
            String(
              format: "%@ %.1f µs (%.2fx)", name, (perMethod[name] ?? 0) / 1e3,
              (perMethod[name] ?? 0) / floor)
          }.joined(separator: ", "))
      levels.append(["levels": depth, "nanosecondsPerPlacement": perMethod])
    }
    json["levels"] = levels
    // Contention: two processes fork without pause while 200 placements are made.
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
    json["race"] = race
    let data = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
    print("bench-json: " + String(decoding: data, as: UTF8.self))
    if let path = ProcessInfo.processInfo.environment["PIDNS_BENCH_COMPARE"] {
      try Self.compare(json, with: path)
    }
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
    func trees(_ json: [String: Any]) -> [String: Double] {
      Dictionary(
        ((json["trees"] as? [[String: Any]]) ?? []).compactMap { tree in
          (tree["id"] as? String).map { ($0, (tree["medianSeconds"] as? Double) ?? 0) }
        }, uniquingKeysWith: { $1 })
    }
    let (oldTrees, newTrees) = (trees(before), trees(now))
    for id in newTrees.keys.sorted() {
      line("tree \(id)", oldTrees[id], newTrees[id], unit: 1e-3, "ms")
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
