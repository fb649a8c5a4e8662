import Foundation

extension ResultLog {
  /// Renders the log as JUnit XML: one `testsuite` per area inside `testsuites`.
  ///
  /// KNOWN cases are `skipped` (CI must not fail on them) with a `known-bug` property, so the bug
  /// stays visible; JUnit has no status for them.
  public func junitXML() -> String {
    var lines = [
      #"<?xml version="1.0" encoding="UTF-8"?>"#,
      "<testsuites name=\"pidns-conformance\" \(Self.junitCounts(cases))>",
    ]
    for area in areas {
      lines.append("  <testsuite name=\(xmlAttribute(area.name)) \(Self.junitCounts(area.cases))>")
      lines += junitEnvironmentProperties().map { "    " + $0 }
      lines += area.cases.flatMap(Self.junitTestCase).map { "    " + $0 }
      lines.append("  </testsuite>")
    }
    lines.append("</testsuites>")
    return lines.joined(separator: "\n") + "\n"
  }

  private static func junitCounts(_ cases: [CaseResult]) -> String {
    let tally = Tally(cases)
    let time = cases.reduce(0) { $0 + $1.durationSeconds }
    return "tests=\"\(tally.total)\" failures=\"\(tally.fail)\" errors=\"0\" "
      + "skipped=\"\(tally.skip + tally.known)\" time=\"\(junitTime(time))\""
  }

  private func junitEnvironmentProperties() -> [String] {
    guard let environment else { return [] }
    let properties =
      [("kernel", environment.kernel), ("machine", environment.machine)]
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
      body = ["<failure message=\(xmlAttribute(message))>\(xmlText(result.reason ?? ""))</failure>"]
    case .broken:
      let message = result.reason ?? "setup failed"
      body = ["<error message=\(xmlAttribute(message))>\(xmlText(message))</error>"]
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
