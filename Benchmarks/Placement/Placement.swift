import Benchmark
import CKernelABI
import ConformanceSupport
import KernelABI

/// The fields the program's first step reported, by name.
func fields(_ call: ProgramCall) throws -> [String: Int64] {
  let run = try call.run()
  guard run.damage == nil, run.exitCode == 0 else { throw BenchError("\(run.reports)") }
  var fields: [String: Int64] = [:]
  for field in run.reports(.field) where field.step == Int32(KABI_PROGRAM_FIRST_STEP) {
    fields[field.name ?? "?"] = field.value
  }
  return fields
}

struct BenchError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}

let methods = ["set_tid", "ns_last_pid", "floor"]

let benchmarks: @Sendable () -> Void = {
  Benchmark.defaultConfiguration.maxDuration = .seconds(10)
  Benchmark.defaultConfiguration.maxIterations = 20
  // One placement by each method, interleaved in one sandbox (race method 3): the sandbox's
  // setup is no part of the figures, which the C code measures around each placement.
  for depth in [1, 3, 8, 32] {
    let metrics =
      methods.map { BenchmarkMetric.custom("\($0) ns/placement") }
      + methods.dropLast().map { BenchmarkMetric.custom("\($0) / floor (%)") }
    Benchmark("placement at level \(depth)", configuration: .init(metrics: metrics)) {
      benchmark in
      for _ in benchmark.scaledIterations {
        let targets: Int64 = 30
        let got = try fields(
          ProgramCall(
            levels: .levels(depth),
            steps: [
              .init(
                "race",
                args: [
                  "method": .number(3), "targets": .number(targets), "noise": .number(0),
                  "counts": .number(1),
                ])
            ]))
        let floor = max(1, got["ns2"] ?? 1)
        for m in 0..<3 { benchmark.measurement(metrics[m], Int((got["ns\(m)"] ?? 0) / targets)) }
        for m in 0..<2 {
          benchmark.measurement(metrics[3 + m], Int(100 * (got["ns\(m)"] ?? 0) / floor))
        }
      }
    }
  }
  // Whole trees by each route, quiet: time per process until the last is made.
  for tree in ["criu-shell", "nested-pods", "captured-unshare"] {
    for (method, name) in [(0, "set_tid"), (1, "ns_last_pid")] {
      let metrics: [BenchmarkMetric] = [.custom("ns/process")]
      Benchmark("tree \(tree) by \(name)", configuration: .init(metrics: metrics)) { benchmark in
        let plan = try TreePlan(named: tree)
        for _ in benchmark.scaledIterations {
          let got = try fields(
            ProgramCall(steps: [
              .init(
                "restore",
                args: [
                  "tree": .text(tree), "method": .number(Int64(method)), "timing": .number(1),
                ])
            ]))
          benchmark.measurement(
            metrics[0], Int((got["nanoseconds"] ?? 0) / Int64(plan.entries.count)))
        }
      }
    }
  }
}
