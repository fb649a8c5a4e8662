import ConformanceResults
import Testing

@Suite struct RunComparisonTransitions {
  typealias Transition = RunComparison.Transition

  struct Row: CustomTestStringConvertible, Sendable {
    var before: CaseStatus
    var after: CaseStatus
    var transition: Transition
    var isRegression: Bool
    var testDescription: String { "\(before.rawValue) → \(after.rawValue)" }
  }

  static let rows: [Row] = [
    Row(before: .pass, after: .fail, transition: .regressed, isRegression: true),
    Row(before: .known, after: .fail, transition: .regressed, isRegression: true),
    Row(before: .pass, after: .known, transition: .regressed, isRegression: true),
    Row(before: .fail, after: .pass, transition: .fixed, isRegression: false),
    Row(before: .known, after: .pass, transition: .knownBugFixed, isRegression: false),
    Row(before: .fail, after: .known, transition: .becameKnown, isRegression: false),
    Row(before: .skip, after: .pass, transition: .newlyRunnable, isRegression: false),
    Row(before: .skip, after: .fail, transition: .newlyRunnable, isRegression: true),
    Row(before: .pass, after: .skip, transition: .newlySkipped, isRegression: false),
    Row(before: .fail, after: .skip, transition: .newlySkipped, isRegression: false),
  ]

  private func compare(_ before: CaseResult, _ after: CaseResult) -> RunComparison {
    RunComparison(before: ResultLog(cases: [before]), after: ResultLog(cases: [after]))
  }

  @Test(arguments: rows)
  func `a status change is classified`(_ row: Row) {
    let comparison = compare(
      sample("a", row.before, skipKind: row.before == .skip ? .feature : nil),
      sample("a", row.after, skipKind: row.after == .skip ? .environment : nil))
    #expect(comparison.changes.map(\.transition) == [row.transition])
    #expect(comparison.isRegression == row.isRegression)
  }

  @Test func `an errno change is reported even when both runs pass`() {
    let comparison = compare(
      sample("a", .pass), sample("a", .pass, expected: "EPERM", observed: "EPERM"))
    #expect(comparison.changes.map(\.transition) == [.resultChanged])
    #expect(!comparison.isRegression)
    #expect(
      comparison.markdown().contains("PASS (expected EINVAL → EPERM, observed EINVAL → EPERM)"))
  }

  @Test func `unchanged cases are not reported`() {
    let comparison = compare(sample("a", .pass), sample("a", .pass, kernel: "6.6.0"))
    #expect(comparison.changes.isEmpty)
    #expect(comparison.markdown().contains("No differences."))
  }

  @Test func `cases only in one run are new or vanished, and a new failure regresses`() {
    let comparison = RunComparison(
      before: ResultLog(cases: [sample("old", .pass), sample("kept", .pass)]),
      after: ResultLog(cases: [sample("kept", .pass), sample("new", .fail)]))
    #expect(comparison.changes.map(\.id) == ["new", "old"])
    #expect(comparison.changes.map(\.transition) == [.added, .vanished])
    #expect(comparison.changes.map(\.isRegression) == [true, false])
    #expect(comparison.isRegression)
  }

  @Test func `a vanished feature regresses unless a case needing it still ran`() {
    var after = sampleEnvironment
    after.features = ["clone3.set_tid": false, "clone3.into_cgroup": true]
    let before = ResultLog(cases: [], environments: [sampleEnvironment])
    let vanished = RunComparison(before: before, after: ResultLog(cases: [], environments: [after]))
    #expect(vanished.featureChanges.map(\.name) == ["clone3.into_cgroup", "clone3.set_tid"])
    #expect(vanished.featureChanges.map(\.present) == [true, false])
    #expect(vanished.featureChanges.map(\.isRegression) == [false, true])
    #expect(vanished.isRegression)

    let stillRan = RunComparison(
      before: before,
      after: ResultLog(
        cases: [sample("a", .pass, feature: "clone3.set_tid")], environments: [after]))
    #expect(stillRan.featureChanges.allSatisfy { !$0.isRegression })
  }

  @Test func `the rendering groups changes under headings and states the verdict`() {
    let comparison = RunComparison(
      before: ResultLog(cases: [sample("a", .pass), sample("b", .known, knownBug: levelBug)]),
      after: ResultLog(cases: [sample("a", .fail, observed: "E2BIG"), sample("b", .pass)]))
    let text = comparison.markdown()
    #expect(
      text.hasPrefix("# Comparison: Linux 6.1.0 → 6.1.0\n\nRegression: 1 regressing change(s)."))
    #expect(
      text.contains(
        "## Regressed (1)\n\n- `a` a behaves: PASS → FAIL (expected EINVAL, observed E2BIG)"))
    #expect(text.contains("## Known bug fixed (1)\n\n- `b` b behaves: KNOWN → PASS"))
  }
}
