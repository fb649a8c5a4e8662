import Foundation

extension ResultLog {
  /// Renders the log as KTAP version 1, one subtest per area, as kselftest and KernelCI read it.
  ///
  /// SKIP cases carry the `SKIP` directive and KNOWN cases the `XFAIL` directive; an area is
  /// `not ok` when one of its cases failed and skipped when all of them were.
  public func ktap() -> String {
    let areas = self.areas
    var lines = ["KTAP version 1", "1..\(areas.count)"]
    for (number, area) in zip(1..., areas) {
      lines += ["  KTAP version 1", "  1..\(area.cases.count)"]
      for (caseNumber, result) in zip(1..., area.cases) {
        lines += Self.ktapLines(result, number: caseNumber).map { "  " + $0 }
      }
      let tally = Tally(area.cases)
      let name = Self.ktapDescription(area.name)
      lines.append(
        tally.fail > 0
          ? "not ok \(number) \(name)"
          : tally.skip == tally.total
            ? "ok \(number) \(name) # SKIP all cases skipped"
            : "ok \(number) \(name)")
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// The diagnostic lines of one case, then its result line.
  private static func ktapLines(_ result: CaseResult, number: Int) -> [String] {
    let description = ktapDescription("\(result.id) \(result.title)")
    switch result.status {
    case .pass:
      return ["ok \(number) \(description)"]
    case .fail:
      let diagnostics = [result.mismatch, result.reason].compactMap { $0 }
      return diagnostics.map { "# " + oneLine($0) } + ["not ok \(number) \(description)"]
    case .broken:
      return ["# " + oneLine(result.reason ?? "setup failed"), "not ok \(number) \(description)"]
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
}

/// The text on one line: line breaks become spaces, so line-based formats stay parseable.
func oneLine(_ text: String) -> String {
  text.split(whereSeparator: \.isNewline).joined(separator: " ")
}
