extension RunComparison {
  /// Renders the comparison as Markdown: the verdict, then one section per kind of change.
  public func markdown() -> String {
    let regressions =
      changes.filter(\.isRegression).count
      + featureChanges.filter(\.isRegression).count
    var sections = [
      [
        "# Comparison: Linux \(kernels.before) → \(kernels.after)", "",
        isRegression ? "Regression: \(regressions) regressing change(s)." : "No regression.",
      ]
    ]
    for transition in Transition.allCases {
      let items = changes(transition)
      if !items.isEmpty {
        sections.append(["## \(transition.heading) (\(items.count))", ""] + items.map(Self.line))
      }
    }
    if !featureChanges.isEmpty {
      sections.append(
        ["## Features", ""]
          + featureChanges.map { change in
            "- \(change.name) \(change.present ? "appeared" : "vanished")"
              + (change.isRegression
                ? " (regression)" : change.present ? "" : " (cases needing it still ran)")
          })
    }
    if changes.isEmpty && featureChanges.isEmpty { sections.append(["No differences."]) }
    return sections.map { $0.joined(separator: "\n") + "\n" }.joined(separator: "\n")
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
      + (change.isRegression && change.transition != .regressed ? " — regression" : "")
  }

  /// What the later run says about the case, in the words its status calls for.
  private static func outcome(_ result: CaseResult?) -> String? {
    guard let result else { return nil }
    switch result.status {
    case .pass: return nil
    case .fail: return result.mismatch ?? result.reason
    case .broken: return result.reason
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
    case .fixed: "Fixed"
    case .knownBugFixed: "Known bug fixed"
    case .becameKnown: "Now a known bug"
    case .newlyRunnable: "Newly runnable"
    case .newlySkipped: "Newly skipped"
    case .resultChanged: "Result changed"
    case .added: "New cases"
    case .vanished: "Vanished cases"
    }
  }
}
