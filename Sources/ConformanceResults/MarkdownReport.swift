import Foundation

extension ResultLog {
  /// Renders the human summary: counts, what the run is missing, skip reasons, environment
  /// limitations, a table per area, the failures, the BROKEN cases and the known kernel bugs.
  ///
  /// - Parameter selection: How the run was narrowed, such as `filter: SetTid`; the summary then
  ///   says that its counts cover only the selected cases. The log's own selection is used when
  ///   this is nil.
  public func markdown(selection: String? = nil) -> String {
    let selection = effectiveSelection(selection)
    let completeness = completeness(selection: selection)
    let title = "# PID-namespace conformance on Linux \(kernel)"
    let sections = [
      [title + (environment.map { " (\($0.machine))" } ?? "")],
      markdownRunFacts(),
      selection.map {
        ["Selection: \(describe(selection: $0)) — counts cover only the selected cases"]
      } ?? [],
      [tally.countsLine(expected: completeness.expectedCases)],
      markdownIncomplete(completeness),
      markdownSkips(),
      markdownList(
        "## Environment limitations", (environment?.limitations ?? []).map(markdownInline)),
      markdownAreas(),
      markdownList("## Failures", cases.filter { $0.status == .fail }.map(markdownFailure)),
      markdownList(
        "## Broken: the case's own setup failed, not the kernel",
        cases.filter { $0.status == .broken }.map(markdownBroken)),
      markdownList("## Known kernel bugs", cases.filter { $0.status == .known }.map(markdownKnown)),
      markdownList("## Notes on the log", notes.map(markdownInline)),
    ]
    return sections.filter { !$0.isEmpty }.map { $0.joined(separator: "\n") + "\n" }
      .joined(separator: "\n")
  }

  /// The section that says the run did not complete, before anything that could read as clean.
  private func markdownIncomplete(_ completeness: Completeness) -> [String] {
    guard let summary = completeness.summary else { return [] }
    return ["## INCOMPLETE", "", "**" + markdownInline(summary.capitalizedFirst) + ".**", ""]
      + completeness.shortfalls.map {
        "- `\($0.area)`: \($0.missing) of \($0.expected) expected "
          + "cases have no result"
      }
      + completeness.fixtureErrors.map { "- fixture failed to load: " + markdownInline($0) }
  }

  private func markdownSkips() -> [String] {
    let kinds = tally.skipKinds
    guard !kinds.isEmpty else { return [] }
    return ["\(tally.skip) skip: " + kinds.map { "\($0.count) \($0.kind)" }.joined(separator: ", ")]
      + skipReasons.map { "- \($0.kind): \(markdownInline($0.reason)) (\($0.count))" }
  }

  private func markdownAreas() -> [String] {
    [
      "## Areas", "", "| area | pass | fail | broken | skip | known |",
      "|---|---:|---:|---:|---:|---:|",
    ]
      + areas.map { area in
        let counts = Tally(area.cases)
        return "| \(markdownInline(area.name)) | \(counts.pass) | \(counts.fail) "
          + "| \(counts.broken) | \(counts.skip) | \(counts.known) |"
      }
  }

  /// What a reader needs to reproduce or place the run: the suite's revision, the kernel and
  /// machine, who ran it, and what the probes found.
  private func markdownRunFacts() -> [String] {
    guard let environment else { return [] }
    let present = environment.features.filter(\.value).keys.sorted()
    let missing = environment.features.filter { !$0.value }.keys.sorted()
    let level = environment.pidNamespaceLevel.map { ", the suite at PID-namespace level \($0)" }
    return [
      "- Suite: " + markdownInline(environment.suiteRevision ?? "revision not recorded"),
      "- Kernel: " + markdownInline("\(environment.kernel) (\(environment.machine))")
        + (environment.kernelVersion.map { version in
          KernelVersion(release: environment.kernel).map { "\($0)" } == version
            ? ""
            : ", judged as " + markdownInline(version)
              + " (read from `uname -v`, where Debian names its stable update or release candidate)"
        } ?? "")
        + (level ?? ""),
      "- Setting: " + markdownInline(environment.setting ?? "not recorded"),
      "- Features present: " + (present.isEmpty ? "none" : present.joined(separator: ", ")),
    ]
      + missing.map { name in
        "- Feature missing: "
          + markdownInline(
            name + (environment.featureEvidence?[name].map { " (\($0))" } ?? ""))
      }
      + (environment.facts.map { facts in
        facts.isEmpty
          ? []
          : [
            "- Kernel and machine facts: "
              + markdownInline(
                facts.sorted { $0.key < $1.key }.map { "\($0.key) = \($0.value)" }
                  .joined(separator: "; "))
          ]
      } ?? [])
  }

  /// The case, then expected against observed once, the fixture's `why` (where to look in the
  /// kernel), the feature it needs, and a reason that says more than the mismatch.
  private func markdownFailure(_ result: CaseResult) -> String {
    var lines = [caseHeading(result) + (result.mismatch.map { ": " + markdownInline($0) } ?? "")]
    if let reason = result.failureReason { lines.append("  - " + markdownInline(reason)) }
    if let why = result.why {
      lines.append(
        "  - why \(markdownInline(result.expected ?? "expected")): " + markdownInline(why))
    }
    if let feature = result.feature {
      let probed = environment?.features[feature].map { $0 ? "present" : "missing" }
      lines.append("  - needs \(feature)" + (probed.map { " (probed: \($0))" } ?? ""))
    }
    for bug in result.knownElsewhere ?? [] {
      lines.append("  - known bug on other kernels: " + markdownInline(bug))
    }
    return lines.joined(separator: "\n")
  }

  /// `` `id` title — step: …; errno: EAGAIN; likely cause: … ``, or the reason when the case
  /// recorded no setup failure.
  private func markdownBroken(_ result: CaseResult) -> String {
    guard let failure = result.setupFailure else {
      return caseHeading(result) + " — " + markdownInline(result.setupSummary)
    }
    let details = [
      "step: " + failure.step, failure.errno.map { "errno: " + $0 },
      failure.cause.map { "likely cause: " + $0 },
    ].compactMap { $0 }
    return caseHeading(result) + " — " + markdownInline(details.joined(separator: "; "))
  }

  private func markdownKnown(_ result: CaseResult) -> String {
    guard let bug = result.knownBug else {
      return caseHeading(result) + ": " + markdownInline(result.reason ?? "no bug recorded")
    }
    let stable = bug.stable.isEmpty ? "" : " (stable: \(bug.stable.joined(separator: ", ")))"
    let fix = bug.fixedBy.map { "; fixed by \($0)\(stable)" } ?? "; not fixed upstream"
    return caseHeading(result) + ": " + markdownInline(bug.title) + " — " + bug.report + fix
  }

  /// A heading and its bullet list, or nothing when the list is empty.
  private func markdownList(_ heading: String, _ items: [String]) -> [String] {
    items.isEmpty ? [] : [heading, ""] + items.map { "- " + $0 }
  }
}

/// `filter: SetTid` reads as `filter 'SetTid'`; a selection without a colon is quoted whole.
func describe(selection: String) -> String {
  guard let colon = selection.firstIndex(of: ":") else { return "'\(selection)'" }
  let kind = selection[..<colon].trimmingCharacters(in: .whitespaces)
  let value = selection[selection.index(after: colon)...].trimmingCharacters(in: .whitespaces)
  return "\(kind) '\(value)'"
}

/// A case as a list item starts: its id as code, then its title.
func caseHeading(_ result: CaseResult) -> String {
  "`\(result.id)` " + markdownInline(result.title)
}

/// Text for one line of a Markdown table or list, shown as it is: on one line, and with what
/// GitHub-flavoured Markdown would read as markup escaped. A `|` ends a table cell; a backtick
/// opens a code span, in which the other escapes would show; `<` before a letter starts HTML,
/// which GitHub drops (`<none>` vanishes); `*`, and `_` not inside a word, emphasize; a backslash would escape the
/// character after it; a leading `#` makes a list item a heading.
func markdownInline(_ text: String) -> String {
  let characters = Array(oneLine(text))
  func inWord(_ index: Int) -> Bool {
    characters.indices.contains(index)
      && (characters[index].isLetter || characters[index].isNumber)
  }
  // HTML starts with `<` and a letter, `/`, `!` or `?`: `size < 64` is text as it is.
  func opensTag(_ index: Int) -> Bool {
    characters.indices.contains(index)
      && (characters[index].isLetter || "/!?".contains(characters[index]))
  }
  var escaped = ""
  for (index, character) in characters.enumerated() {
    switch character {
    case "\\", "|", "`", "*": escaped.append("\\")
    case "<" where opensTag(index + 1): escaped.append("\\")
    case "_" where !(inWord(index - 1) && inWord(index + 1)): escaped.append("\\")
    case "#" where index == 0: escaped.append("\\")
    default: break
    }
    escaped.append(character)
  }
  return escaped
}

extension String {
  /// The text with its first letter upper-cased, to start a sentence.
  var capitalizedFirst: String { prefix(1).uppercased() + dropFirst() }
}
