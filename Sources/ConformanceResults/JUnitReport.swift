import Foundation

extension ResultLog {
  /// Renders the log as JUnit XML: one `testsuite` per area inside `testsuites`.
  ///
  /// KNOWN cases are `skipped` (CI must not fail on them) with a `known-bug` property, so the bug
  /// stays visible; JUnit has no status for them. BROKEN cases are `<error type="BROKEN">`, JUnit's
  /// "the test could not run properly" as opposed to `<failure>`, with the setup step, errno and
  /// likely cause as `setup-*` properties and in the error text.
  ///
  /// JUnit has no notion of a result that was never written, and CI dashboards only count the
  /// testcases they see, so what the run is missing becomes testcases with an
  /// `<error type="incomplete">`: one named `<area>: missing results` in each area with fewer
  /// results than its fixture defines (in a testsuite of its own when the area has no result at
  /// all), and one per fixture that failed to load, in a `fixtures` testsuite. They count in
  /// `tests` and `errors`, so a partial run never shows as all green.
  ///
  /// - Parameter selection: How the run was narrowed; the log's own selection is used when nil.
  public func junitXML(selection: String? = nil) -> String {
    let selection = effectiveSelection(selection)
    let completeness = completeness(selection: selection)
    let shortfalls = Dictionary(
      completeness.shortfalls.map { ($0.area, $0) }, uniquingKeysWith: { $1 })
    let areasWithoutResults = completeness.shortfalls.filter { $0.recorded == 0 }.map(\.area)
    let suites: [(name: String, cases: [CaseResult], errors: [JUnitError])] =
      (areas + areasWithoutResults.map { (name: $0, cases: []) }).map { area in
        (area.name, area.cases, shortfalls[area.name].map { [.missingResults($0)] } ?? [])
      }
      + (completeness.fixtureErrors.isEmpty
        ? [] : [("fixtures", [], completeness.fixtureErrors.map(JUnitError.fixture))])
    var lines = [
      #"<?xml version="1.0" encoding="UTF-8"?>"#,
      "<testsuites name=\"pidns-conformance\" "
        + "\(Self.junitCounts(cases, extraErrors: suites.reduce(0) { $0 + $1.errors.count }))>",
    ]
    for suite in suites {
      lines.append(
        "  <testsuite name=\(xmlAttribute(suite.name)) "
          + "\(Self.junitCounts(suite.cases, extraErrors: suite.errors.count))>")
      lines += junitEnvironmentProperties(selection: selection).map { "    " + $0 }
      lines += suite.cases.flatMap(Self.junitTestCase).map { "    " + $0 }
      lines += suite.errors.flatMap { $0.testCase(suite: suite.name) }.map { "    " + $0 }
      lines.append("  </testsuite>")
    }
    lines.append("</testsuites>")
    return lines.joined(separator: "\n") + "\n"
  }

  /// The counts of a suite; `extraErrors` are the testcases that stand for missing results.
  private static func junitCounts(_ cases: [CaseResult], extraErrors: Int) -> String {
    let tally = Tally(cases)
    let time = cases.reduce(0) { $0 + $1.durationSeconds }
    return "tests=\"\(tally.total + extraErrors)\" failures=\"\(tally.fail)\" "
      + "errors=\"\(tally.broken + extraErrors)\" "
      + "skipped=\"\(tally.skip + tally.known)\" time=\"\(junitTime(time))\""
  }

  private func junitEnvironmentProperties(selection: String?) -> [String] {
    guard let environment else { return [] }
    let facts: [(String, String?)] = [
      ("kernel", environment.kernel), ("machine", environment.machine),
      ("suite-revision", environment.suiteRevision), ("setting", environment.setting),
      ("selection", selection),
    ]
    let properties =
      facts.compactMap { name, value in value.map { (name, $0) } }
      + environment.limitations.map { ("limitation", $0) }
    return ["<properties>"]
      + properties.map { "  <property name=\(xmlAttribute($0)) value=\(xmlAttribute($1))/>" }
      + ["</properties>"]
  }

  private static func junitTestCase(_ result: CaseResult) -> [String] {
    let open =
      "<testcase classname=\(xmlAttribute(result.area)) "
      + "name=\(xmlAttribute("\(result.id): \(result.title)")) "
      + "time=\"\(junitTime(result.durationSeconds))\""
    let body: [String]
    switch result.status {
    case .pass:
      return [open + "/>"]
    case .fail:
      let message = result.mismatch ?? result.reason ?? "failed"
      let text = [result.failureReason, result.why.map { "why: " + $0 }].compactMap { $0 }
      body = [
        "<failure message=\(xmlAttribute(message))>"
          + "\(xmlText(text.joined(separator: "\n")))</failure>"
      ]
    case .broken:
      let failure = result.setupFailure
      let properties = [
        ("setup-step", failure?.step), ("setup-errno", failure?.errno),
        ("setup-cause", failure?.cause),
      ].compactMap { name, value in
        value.map { "  <property name=\"\(name)\" value=\(xmlAttribute($0))/>" }
      }
      let text = [
        failure.map { "step: " + $0.step }, failure?.errno.map { "errno: " + $0 },
        failure?.cause.map { "likely cause: " + $0 }, result.reason,
      ].compactMap { $0 }.joined(separator: "\n")
      body =
        (properties.isEmpty ? [] : ["<properties>"] + properties + ["</properties>"])
        + [
          "<error type=\"BROKEN\" message=\(xmlAttribute(result.setupSummary))>"
            + "\(xmlText(text))</error>"
        ]
    case .skip:
      let message = "\(result.skipKindLabel): \(result.reason ?? "no reason given")"
      body = ["<skipped message=\(xmlAttribute(message))/>"]
    case .known:
      let bug = result.knownBug
      let summary = bug.map { "\($0.title) (\($0.report))" } ?? result.reason ?? "known kernel bug"
      let properties = [
        ("known-bug", bug?.title ?? summary), ("known-bug-report", bug?.report),
        ("known-bug-fixed-by", bug?.fixedBy),
      ]
      body =
        ["<properties>"]
        + properties.compactMap { name, value in
          value.map { "  <property name=\"\(name)\" value=\(xmlAttribute($0))/>" }
        } + ["</properties>", "<skipped message=\(xmlAttribute("KNOWN: " + summary))/>"]
    }
    return [open + ">"] + body.map { "  " + $0 } + ["</testcase>"]
  }

  /// Seconds with millisecond precision; a non-finite duration is written as 0.
  private static func junitTime(_ seconds: Double) -> String {
    String(format: "%.3f", seconds.isFinite ? seconds : 0)
  }
}

/// A testcase that stands for results the run should have written and did not.
private enum JUnitError {
  case missingResults(Completeness.AreaShortfall)
  case fixture(String)

  func testCase(suite: String) -> [String] {
    let name: String
    let message: String
    switch self {
    case .missingResults(let shortfall):
      name = "\(shortfall.area): missing results"
      message = "\(shortfall.missing) of \(shortfall.expected) expected cases have no result"
    case .fixture(let error):
      name = "fixture " + Completeness.fixtureFile(of: error)
      message = "fixture failed to load: " + error
    }
    return [
      "<testcase classname=\(xmlAttribute(suite)) name=\(xmlAttribute(name)) time=\"0.000\">",
      "  <error type=\"incomplete\" message=\(xmlAttribute(message))/>",
      "</testcase>",
    ]
  }
}

/// A quoted XML attribute value; line breaks and tabs are escaped so parsers keep them.
func xmlAttribute(_ value: String) -> String {
  "\"" + xmlText(value, escapingWhitespace: true) + "\""
}

/// XML character data: markup escaped, and characters XML 1.0 cannot carry at all (most control
/// characters, U+FFFE, U+FFFF) written as `\u{1B}` so the document stays well-formed.
func xmlText(_ value: String, escapingWhitespace: Bool = false) -> String {
  var escaped = ""
  for scalar in value.unicodeScalars {
    switch scalar {
    case "&": escaped += "&amp;"
    case "<": escaped += "&lt;"
    case ">": escaped += "&gt;"
    case "\"": escaped += "&quot;"
    case "'": escaped += "&apos;"
    case "\t", "\n", "\r":
      escaped += escapingWhitespace ? "&#\(scalar.value);" : String(scalar)
    case "\u{0}"..."\u{1F}", "\u{FFFE}", "\u{FFFF}":
      escaped += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
    default: escaped.unicodeScalars.append(scalar)
    }
  }
  return escaped
}
