import CKernelABI
import Foundation
import KernelABI
import Testing

/// Cost of one sandbox round trip from the test process; scripts/bench runs it and compares
/// it with the same round trip from a small C program. It prints, and checks nothing.
@Suite struct SandboxBenchmark {
  @Test(
    .enabled(
      if: ProcessInfo.processInfo.environment["PIDNS_BENCH_ROUNDS"] != nil,
      "a benchmark: scripts/bench runs it"))
  func `one sandbox round trip`() throws {
    let rounds = Int(ProcessInfo.processInfo.environment["PIDNS_BENCH_ROUNDS"] ?? "") ?? 2000
    var count: UInt32 = 0
    let clock = ContinuousClock()
    let start = clock.now
    for _ in 0..<rounds {
      let run = try Sandbox.run(body: kabi_body_fan_out, argument: &count, maxReports: 8)
      try #require(run.exitCode == 0 && run.reports.count == 1)
    }
    let elapsed = (clock.now - start) / rounds
    let micros =
      Double(elapsed.components.seconds) * 1e6 + Double(elapsed.components.attoseconds) / 1e12
    print("bench: sandbox round trip from the Swift test process: \(micros) µs")
  }
}
