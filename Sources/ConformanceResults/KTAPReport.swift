import Foundation

extension ResultLog {
  /// Renders the log as KTAP version 1, one subtest per area, as kselftest and KernelCI read it.
  ///
  /// SKIP cases carry the `SKIP` directive and KNOWN cases the `XFAIL` directive. A BROKEN case
  /// is `not ok N description # error <step failed with errno: cause>`, as kselftest's
  /// `ksft_test_result_error()` writes `not ok N # error <message>`: not ok, because no verdict
  /// was reached, and marked as an error, because the setup rather than the kernel failed.
  ///
  /// What the run is missing shows in three ways, so every consumer sees it: a subtest's plan is
  /// the number of cases its fixture defines, so a parser finds fewer results than planned (an
  /// area with no result at all still gets its subtest header and plan); the area's line is
  /// `not ok ... # error N of E expected cases have no result`, after a `#` diagnostic saying the
  /// same; and a fixture that failed to load is one more `not ok ... # error` line of its own. A
  /// `# INCOMPLETE:` diagnostic after the top-level plan sums it up.
  ///
  /// - Parameter selection: How the run was narrowed; the log's own selection is used when nil.
  public func ktap(selection: String? = nil) -> String {
    let completeness = completeness(selection: effectiveSelection(selection))
    let shortfalls = Dictionary(
      completeness.shortfalls.map { ($0.area, $0) }, uniquingKeysWith: { $1 })
    let areasWithoutResults = completeness.shortfalls.filter { $0.recorded == 0 }.map(\.area)
    let allAreas = areas + areasWithoutResults.map { (name: $0, cases: [CaseResult]()) }
    var lines = ["KTAP version 1", "1..\(allAreas.count + completeness.fixtureErrors.count)"]
    if let selection = effectiveSelection(selection) {
      lines.append("# Selection: " + oneLine(describe(selection: selection)))
    }
    if let incomplete = completeness.summary {
      lines.append("# INCOMPLETE: " + oneLine(incomplete))
    }
    for (number, area) in zip(1..., allAreas) {
      let shortfall = shortfalls[area.name]
      lines += ["  KTAP version 1", "  1..\(shortfall?.expected ?? area.cases.count)"]
      for (caseNumber, result) in zip(1..., area.cases) {
        lines += Self.ktapLines(result, number: caseNumber).map { "  " + $0 }
      }
      lines += Self.ktapAreaLines(area.name, area.cases, shortfall: shortfall, number: number)
    }
    for (number, error) in zip((allAreas.count + 1)..., completeness.fixtureErrors) {
      let file = Completeness.fixtureFile(of: error)
      lines += [
        "# fixture failed to load: " + oneLine(error),
        "not ok \(number) \(Self.ktapDescription("fixture " + file)) "
          + "# error fixture failed to load: its cases did not run",
      ]
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// An area's result line, after a diagnostic when results are missing: not ok when a case
  /// failed; not ok with the error directive when a case broke or results are missing; skipped
  /// when every case was.
  private static func ktapAreaLines(
    _ name: String, _ cases: [CaseResult], shortfall: Completeness.AreaShortfall?, number: Int
  ) -> [String] {
    let tally = Tally(cases)
    let description = ktapDescription(name)
    let brokenCount = tally.broken > 0 ? ["\(tally.broken) BROKEN"] : []
    let missingCount =
      shortfall.map { ["\($0.missing) of \($0.expected) expected cases have no result"] } ?? []
    let diagnostics = shortfall.map { ["# " + oneLine($0.sentence)] } ?? []
    if tally.fail > 0 {
      return diagnostics + ["not ok \(number) \(description)"]
    }
    let errors = brokenCount + missingCount
    if !errors.isEmpty {
      return diagnostics
        + ["not ok \(number) \(description) # error " + errors.joined(separator: "; ")]
    }
    if tally.skip == tally.total {
      return ["ok \(number) \(description) # SKIP all cases skipped"]
    }
    return ["ok \(number) \(description)"]
  }

  /// The diagnostic lines of one case, then its result line.
  private static func ktapLines(_ result: CaseResult, number: Int) -> [String] {
    let description = ktapDescription("\(result.id) \(result.title)")
    switch result.status {
    case .pass:
      return ["ok \(number) \(description)"]
    case .fail:
      let diagnostics = [
        result.mismatch, result.failureReason, result.why.map { "why: " + $0 },
      ].compactMap { $0 }
      return diagnostics.map { "# " + oneLine($0) } + ["not ok \(number) \(description)"]
    case .broken:
      // The directive carries the setup failure; a reason the case gave besides it stays as a
      // diagnostic.
      let reason = result.setupFailure == nil ? nil : result.reason
      return (reason.map { ["# " + oneLine($0)] } ?? [])
        + ["not ok \(number) \(description) # error \(oneLine(result.setupSummary))"]
    case .skip:
      return [
        "ok \(number) \(description) # SKIP \(oneLine(result.reason ?? result.skipKindLabel))"
      ]
    case .known:
      let bug = result.knownBug.map { "\($0.title) (\($0.report))" } ?? result.reason ?? ""
      return ["ok \(number) \(description) # XFAIL \(oneLine(bug))"]
    }
  }

  /// KTAP reads `#` in a description as the start of a directive, so it is spelled out.
  private static func ktapDescription(_ text: String) -> String {
    oneLine(text).replacingOccurrences(of: "#", with: "%23")
  }
}

extension CaseResult {
  /// `expected EINVAL, observed E2BIG`, when the case recorded both.
  var mismatch: String? {
    guard let expected, let observed else { return nil }
    return "expected \(expected), observed \(observed)"
  }

  /// The reason a FAIL gives beyond the mismatch, or nil when it only restates it (logs written
  /// before the mismatch was left to `expected` and `observed` repeat it in `reason`).
  var failureReason: String? {
    guard let reason else { return nil }
    if mismatch != nil, reason.hasPrefix("expected ") { return nil }
    return reason
  }
}

/// The text on one line: line breaks become spaces, so line-based formats stay parseable.
func oneLine(_ text: String) -> String {
  text.split(whereSeparator: \.isNewline).joined(separator: " ")
}
