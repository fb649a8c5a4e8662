import Foundation

extension CaseSelection {
  /// The first selector that cannot select any of `cases` (an id and its table's tags), as
  /// the scripts' `--filter` reports it; nil when every selector selects something.
  public func problem(cases: [(id: String, tags: [String])]) -> String? {
    let tags = Set(cases.flatMap(\.tags))
    for selector in selectors {
      if selector.hasPrefix(Self.tagPrefix) {
        guard tags.contains(String(selector.dropFirst(Self.tagPrefix.count))) else {
          return "--filter '\(selector)': no suite has that tag (tags: "
            + tags.sorted().joined(separator: " ") + ")"
        }
      } else if !Self.isCaseId(selector) {
        return "--filter '\(selector)' is not a case id (letters, digits, '_', '-', '+' and '.') "
          + "nor tag:NAME"
      } else if !cases.contains(where: { $0.id == selector || $0.id.hasPrefix(selector + ".") }) {
        return "--filter '\(selector)' selects no case: no case id is or starts with "
          + "'\(selector).'"
      }
    }
    return nil
  }

  /// Letters, digits, `_`, `-`, `+` and `.`, not starting with `-`, `+` or `.`: what a
  /// selector can name, and every id the fixtures use (`clone3.size.page-size+1`).
  public static func isCaseId(_ text: String) -> Bool {
    func allowed(_ character: Character) -> Bool {
      character.isASCII && (character.isLetter || character.isNumber || character == "_")
    }
    guard let first = text.first, allowed(first) else { return false }
    return text.allSatisfy { allowed($0) || $0 == "-" || $0 == "+" || $0 == "." }
  }
}

extension ExitStatus {
  /// Run statuses from most to least severe: a FAIL, because the kernel broke its contract
  /// whatever else went wrong; then an incomplete run, because the missing cases may hold
  /// failures; then a run that could not start at all; then BROKEN cases or an environment
  /// that let nothing run.
  public static let precedence: [ExitStatus] = [
    .failure, .incomplete, .unrunnable, .environmentPrevented, .success,
  ]

  /// The most severe of `statuses` by `precedence`; success for none.
  public static func mostSevere(_ statuses: some Sequence<ExitStatus>) -> ExitStatus {
    let found = Set(statuses)
    return precedence.first { found.contains($0) } ?? .success
  }
}

extension ReportTool {
  /// `conformance-report list`: every case id of the tables in `fixtures` with its table's tags,
  /// `ID<TAB>tag,tag`, or every tag once with `--tags`; with a selection, only what it selects,
  /// after checking each selector (64 for one that selects nothing).
  func list(fixtures: String, filter: String?, tagsOnly: Bool) throws(Stop) -> ExitStatus {
    let folder = URL(fileURLWithPath: fixtures, isDirectory: true)
    let names: [String]
    do {
      names = try FixtureTables.names(in: folder)
    } catch {
      throw Stop(status: .usage, message: "cannot read the fixtures in \(fixtures): \(error)")
    }
    var cases: [(id: String, tags: [String])] = []
    for name in names {
      // A table that does not load is the test run's to report (an incomplete run, 3).
      do {
        let table = try FixtureFile<Ignored>.load(name, from: folder)
        cases += table.cases.map { ($0.id, table.tags) }
      } catch {
        standardError("warning: \(error)")
      }
    }
    if let filter {
      guard let selection = CaseSelection(filter) else {
        throw Stop(status: .usage, message: "--filter needs a value")
      }
      if let problem = selection.problem(cases: cases) {
        throw Stop(status: .usage, message: problem)
      }
      cases = cases.filter { selection.selects(id: $0.id, tags: $0.tags) }
    }
    if tagsOnly {
      standardOutput(Set(cases.flatMap(\.tags)).sorted().map { $0 + "\n" }.joined())
    } else {
      standardOutput(cases.map { "\($0.id)\t\($0.tags.joined(separator: ","))\n" }.joined())
    }
    return .success
  }

  /// `conformance-report status`: one line per log, `LOG<TAB>STATUS<TAB>KERNEL<TAB>COUNTS`,
  /// and the most severe status of the logs and of `also` as the exit status. A log that
  /// cannot be read or is malformed is named on stderr, the others are still judged, and the
  /// exit status is that log's (64 or 65): the runs could not all be judged.
  func status(logs: [String], also: [ExitStatus]) throws(Stop) -> ExitStatus {
    var statuses = also
    var unjudged: Stop?
    for path in logs {
      let log: ResultLog
      do {
        log = try readNonEmptyLog(path)
      } catch {
        standardError(error.message)
        unjudged = unjudged ?? error
        continue
      }
      let verdict = RunVerdict(log)
      let tally = log.tally
      standardOutput(
        "\(path)\t\(verdict.status.rawValue)\t\(log.kernel)\tpass=\(tally.pass) fail=\(tally.fail) "
          + "skip=\(tally.skip) known=\(tally.known) broken=\(tally.broken)\n")
      for line in (verdict.explanation ?? "").split(separator: "\n") {
        standardError("\(path): \(line)")
      }
      statuses.append(verdict.status)
    }
    return unjudged?.status ?? ExitStatus.mostSevere(statuses)
  }

  /// `conformance-report cases`: the log's cases with their status and reason, those of
  /// `statuses` only when given, then the measured PID-namespace level.
  func cases(log path: String, statuses: [String]) throws(Stop) -> ExitStatus {
    let log = try readLog(path, wholeRecordsOnly: true)
    for result in log.cases where statuses.isEmpty || statuses.contains(result.status.rawValue) {
      standardOutput("\(result.id)\t\(result.status.rawValue)\t\(result.reason ?? "")\n")
    }
    standardOutput("level\t\(log.environment?.pidNamespaceLevel.map(String.init) ?? "?")\n")
    return .success
  }
}
