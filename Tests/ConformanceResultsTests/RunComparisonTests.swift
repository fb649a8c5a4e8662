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
    Row(before: .pass, after: .skip, transition: .lostCoverage, isRegression: true),
    Row(before: .known, after: .skip, transition: .lostCoverage, isRegression: true),
    Row(before: .pass, after: .broken, transition: .lostCoverage, isRegression: true),
    Row(before: .known, after: .broken, transition: .lostCoverage, isRegression: true),
    Row(before: .fail, after: .skip, transition: .newlySkipped, isRegression: false),
    Row(before: .broken, after: .skip, transition: .newlySkipped, isRegression: false),
    Row(before: .fail, after: .broken, transition: .newlyBroken, isRegression: false),
    Row(before: .skip, after: .broken, transition: .newlyBroken, isRegression: false),
    Row(before: .broken, after: .pass, transition: .newlyRunnable, isRegression: false),
    Row(before: .broken, after: .fail, transition: .newlyRunnable, isRegression: true),
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

  @Test
  func `cases only in one run are new or vanished, and both a new failure and a lost case regress`()
  {
    let comparison = RunComparison(
      before: ResultLog(cases: [sample("old", .pass), sample("kept", .pass)]),
      after: ResultLog(cases: [sample("kept", .pass), sample("new", .fail)]))
    #expect(comparison.changes.map(\.id) == ["new", "old"])
    #expect(comparison.changes.map(\.transition) == [.added, .vanished])
    #expect(comparison.changes.map(\.isRegression) == [true, true])
    #expect(comparison.isRegression)
  }

  @Test(arguments: CaseStatus.allCases)
  func `a vanished case regresses unless it skipped before`(_ before: CaseStatus) {
    let comparison = RunComparison(
      before: ResultLog(cases: [sample("a", .pass), sample("gone", before)]),
      after: ResultLog(cases: [sample("a", .pass)]))
    #expect(comparison.changes.map(\.transition) == [.vanished])
    #expect(comparison.isRegression == (before != .skip))
  }

  @Test func `a partial later run against a full one regresses, under the regression heading`()
    throws
  {
    // A full log against its first 5 results, as `head -5` or a killed run leaves it.
    let comparison = RunComparison(
      before: completeLog,
      after: ResultLog(
        cases: Array(completeLog.cases.prefix(5)), environments: [completeEnvironment]))
    #expect(comparison.changes(.vanished).count == 4)
    #expect(comparison.laterRunIsPartial)
    #expect(comparison.isRegression)
    let text = comparison.markdown()
    #expect(!text.contains("No regression"))
    #expect(
      text.contains("Regression: 4 regressing change(s); the later run did not complete."))
    let regressions = try #require(text.range(of: "## Regressions"))
    let vanished = try #require(text.range(of: "### Vanished cases (4)"))
    let partial = try #require(text.range(of: "### The later run did not complete"))
    #expect(regressions.upperBound < partial.lowerBound)
    #expect(partial.upperBound < vanished.lowerBound)
    #expect(!text.contains("## Other changes"))
    #expect(text.contains("- `ns_last_pid.1` ns_last_pid.1 behaves: was PASS"))
    #expect(text.contains("- ns_last_pid: 4 of 4 expected cases have no result"))
  }

  @Test func `a later run missing results the earlier never had still regresses`() {
    // The earlier log predates the recorded count, so nothing vanished; the later one knows
    // results are missing.
    let cases = Array(completeLog.cases.prefix(5))
    let comparison = RunComparison(
      before: ResultLog(cases: cases, environments: [sampleEnvironment]),
      after: ResultLog(cases: cases, environments: [completeEnvironment]))
    #expect(comparison.changes.isEmpty)
    #expect(comparison.isRegression)
  }

  @Test func `two runs incomplete alike are listed but do not regress by that alone`() {
    let comparison = RunComparison(before: partialLog, after: partialLog)
    #expect(!comparison.isRegression)
    let text = comparison.markdown()
    #expect(text.contains("No regression."))
    #expect(text.contains("## Other changes\n\n### Incomplete runs"))
  }

  @Test func `lost coverage names the setup failure or skip reason under the regressions`() {
    let comparison = RunComparison(
      before: ResultLog(cases: [sample("a", .pass), sample("b", .known, knownBug: levelBug)]),
      after: ResultLog(cases: [
        sample("a", .broken, setupFailure: blockerFailure),
        sample("b", .skip, reason: "user namespaces disabled", skipKind: .environment),
      ]))
    let text = comparison.markdown()
    #expect(
      text.contains(
        """
        ## Regressions

        ### Lost coverage (2)

        - `a` a behaves: PASS → BROKEN (clone3 of the blocker process failed with EAGAIN: \
        RLIMIT_NPROC is 30 for uid 1000)
        - `b` b behaves: KNOWN → SKIP (environment: user namespaces disabled)
        """))
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
        "## Regressions\n\n### Regressed (1)\n\n"
          + "- `a` a behaves: PASS → FAIL (expected EINVAL, observed E2BIG)"))
    #expect(
      text.contains("## Other changes\n\n### Known bug fixed (1)\n\n- `b` b behaves: KNOWN → PASS"))
  }
}
