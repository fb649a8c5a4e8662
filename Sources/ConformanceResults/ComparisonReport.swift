extension RunComparison {
  /// Renders the comparison as Markdown: the verdict, then `## Regressions` with every
  /// regressing change (a later run that did not complete, regressed cases, lost coverage,
  /// vanished cases, vanished features), then `## Other changes`; one `###` section per kind of
  /// change in each.
  public func markdown() -> String {
    let regressions =
      changes.filter(\.isRegression).count
      + featureChanges.filter(\.isRegression).count
    let verdict =
      isRegression
      ? "Regression: \(regressions) regressing change(s)"
        + (laterRunIsPartial ? "; the later run did not complete." : ".")
      : "No regression."
    let regressing =
      laterRunSection() + changeSections(regressing: true)
      + featureSection("Vanished features", featureChanges.filter(\.isRegression))
    let other =
      changeSections(regressing: false)
      + featureSection("Features", featureChanges.filter { !$0.isRegression })
      + earlierRunSection()
    var sections = [["# Comparison: Linux \(kernels.before) → \(kernels.after)", "", verdict]]
    if !regressing.isEmpty { sections += [["## Regressions"]] + regressing }
    if !other.isEmpty { sections += [["## Other changes"]] + other }
    if changes.isEmpty && featureChanges.isEmpty && regressing.isEmpty && other.isEmpty {
      sections.append(["No differences."])
    }
    return sections.map { $0.joined(separator: "\n") + "\n" }.joined(separator: "\n")
  }

  /// One section per kind of change, holding only the changes that do (or do not) regress:
  /// a vanished case regresses unless it skipped before, so `Vanished cases` can be in both.
  private func changeSections(regressing: Bool) -> [[String]] {
    Transition.allCases.compactMap { transition in
      let items = changes(transition).filter { $0.isRegression == regressing }
      guard !items.isEmpty else { return nil }
      return ["### \(transition.heading) (\(items.count))", ""] + items.map(Self.line)
    }
  }

  private func featureSection(_ heading: String, _ features: [FeatureChange]) -> [[String]] {
    guard !features.isEmpty else { return [] }
    return [
      ["### \(heading) (\(features.count))", ""]
        + features.map { change in
          "- \(change.name) \(change.present ? "appeared" : "vanished")"
            + (change.isRegression || change.present ? "" : " (cases needing it still ran)")
        }
    ]
  }

  private func laterRunSection() -> [[String]] {
    guard laterRunIsPartial, let summary = afterCompleteness.summary else { return [] }
    return [
      ["### The later run did not complete", "", summary.capitalizedFirst + ".", ""]
        + afterCompleteness.problems.map { "- " + markdownInline($0) }
    ]
  }

  /// An earlier run that did not complete makes every comparison with it partial; said, not
  /// counted as a regression of the later run.
  private func earlierRunSection() -> [[String]] {
    var lines: [String] = []
    if let summary = beforeCompleteness.summary {
      lines +=
        ["Earlier run: " + summary + ".", ""]
        + beforeCompleteness.problems.map { "- " + markdownInline($0) }
    }
    if !laterRunIsPartial, let summary = afterCompleteness.summary {
      lines +=
        (lines.isEmpty ? [] : [""]) + ["Later run: " + summary + ".", ""]
        + afterCompleteness.problems.map { "- " + markdownInline($0) }
    }
    return lines.isEmpty ? [] : [["### Incomplete runs", ""] + lines]
  }

  private static func line(_ change: CaseChange) -> String {
    let statuses =
      switch (change.before?.status.rawValue, change.after?.status.rawValue) {
      case (let old?, let new?) where old == new: new
      case (let old?, let new?): "\(old) → \(new)"
      case (nil, let new?): "new, \(new)"
      case (let old, nil): "was \(old ?? "absent")"
      }
    let detail = change.transition == .resultChanged ? resultDelta(change) : outcome(change.after)
    let shown = change.after ?? change.before
    return "- " + (shown.map(caseHeading) ?? "`\(change.id)`") + ": " + statuses
      + (detail.map { " (\(markdownInline($0)))" } ?? "")
  }

  /// What the later run says about the case, in the words its status calls for.
  private static func outcome(_ result: CaseResult?) -> String? {
    guard let result else { return nil }
    switch result.status {
    case .pass: return nil
    case .fail: return result.mismatch ?? result.reason
    case .broken: return result.setupSummary
    case .skip: return "\(result.skipKindLabel): \(result.reason ?? "no reason given")"
    case .known: return result.knownBug?.title ?? result.reason
    }
  }

  /// `expected EINVAL → EPERM, observed EINVAL → EPERM`, naming only the fields that changed.
  private static func resultDelta(_ change: CaseChange) -> String? {
    let fields: [(String, String?, String?)] = [
      ("expected", change.before?.expected, change.after?.expected),
      ("observed", change.before?.observed, change.after?.observed),
    ]
    return fields.filter { $0.1 != $0.2 }
      .map { "\($0.0) \($0.1 ?? "nothing") → \($0.2 ?? "nothing")" }
      .joined(separator: ", ")
  }
}

extension RunComparison.Transition {
  /// The section heading in the rendered comparison.
  var heading: String {
    switch self {
    case .regressed: "Regressed"
    case .lostCoverage: "Lost coverage"
    case .fixed: "Fixed"
    case .knownBugFixed: "Known bug fixed"
    case .becameKnown: "Now a known bug"
    case .newlyRunnable: "Newly runnable"
    case .newlySkipped: "Newly skipped"
    case .newlyBroken: "Newly broken"
    case .resultChanged: "Result changed"
    case .added: "New cases"
    case .vanished: "Vanished cases"
    }
  }
}
