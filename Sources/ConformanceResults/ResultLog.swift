import Foundation

/// A parsed result log: the case results in file order and the merged environment.
public struct ResultLog: Sendable, Equatable {
  /// Every case, in the order the log wrote them; a repeated id keeps only its last record.
  public var cases: [CaseResult]
  /// The environment records merged into one, or nil when the log has none.
  public var environment: EnvironmentRecord?
  /// Irregularities found while reading, such as repeated case ids or test processes that
  /// disagree on the kernel; each is one sentence.
  public var notes: [String]
  /// Every kernel release a record names, each with how many records name it, in order of
  /// first appearance: one for a log of one run.
  public var kernels: [KernelRecords]

  /// Creates a log from records already in memory, merging the environment records.
  public init(cases: [CaseResult], environments: [EnvironmentRecord] = []) {
    var notes: [String] = []
    var kernels: [KernelRecords] = []
    for release in environments.map(\.kernel) + cases.map(\.kernel) {
      if let index = kernels.firstIndex(where: { $0.release == release }) {
        kernels[index].records += 1
      } else {
        kernels.append(KernelRecords(release: release, records: 1))
      }
    }
    self.kernels = kernels
    self.cases = Self.droppingRepeats(cases, notes: &notes)
    self.environment = Self.merge(environments, notes: &notes)
    self.notes = notes
  }

  /// Parses JSON Lines text; blank lines are ignored.
  public static func parse(_ text: String) throws(ResultLogError) -> ResultLog {
    var cases: [CaseResult] = []
    var environments: [EnvironmentRecord] = []
    let decoder = JSONDecoder()
    for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
    where !line.allSatisfy(\.isWhitespace) {
      let data = Data(line.utf8)
      let problem: String
      do {
        switch try decoder.decode(RecordKind.self, from: data).record {
        case "case":
          cases.append(try decoder.decode(CaseResult.self, from: data))
          continue
        case "environment":
          let environment = try decoder.decode(EnvironmentRecord.self, from: data)
          // Every report adds the counts up: a negative one would plan `1..-3` in KTAP, and
          // two near Int.max would trap in the sum. No table holds 2^31 cases, so the bound
          // keeps every sum exact.
          if let (area, count) = environment.expectedCases?.sorted(by: { $0.key < $1.key })
            .first(where: { !(0...Int(Int32.max)).contains($0.value) })
          {
            problem = "expectedCases: \(count) cases for '\(area)' is no count of a table's cases"
            break
          }
          environments.append(environment)
          continue
        case let other:
          problem = "unknown record kind '\(other)'"
        }
      } catch {
        problem = (error as? DecodingError)?.briefDescription ?? "\(error)"
      }
      throw ResultLogError(line: index + 1, problem: problem)
    }
    return ResultLog(cases: cases, environments: environments)
  }

  /// The kernel release the log describes, for titles.
  public var kernel: String {
    environment?.kernel ?? cases.first?.kernel ?? "unknown kernel"
  }

  /// Whether the log holds no record at all: not a run the environment prevented, but no run.
  public var isEmpty: Bool { cases.isEmpty && environment == nil }

  /// The console summary: the counts line; what the run is missing; the FAIL cases with expected
  /// against observed and the fixture's `why`, the BROKEN cases with their setup failure and the
  /// commonest skip reasons (at most `reasonLimit` of each); and last the line CI parses.
  ///
  /// - Parameter selection: How the run was narrowed, when the log does not say it itself.
  public func consoleSummary(reasonLimit: Int = 5, selection: String? = nil) -> String {
    let completeness = completeness(selection: selection)
    var lines = [tally.countsLine(withSkipKinds: true, expected: completeness.expectedCases)]
    if let incomplete = completeness.summary {
      lines.append("INCOMPLETE: " + incomplete)
      lines += completeness.problems.map { "  " + oneLine($0) }
    }
    let failed = cases.filter { $0.status == .fail }
    lines += failed.prefix(reasonLimit).map { result in
      let details = [
        result.mismatch, result.failureReason, result.why.map { "why: " + $0 },
      ]
      return "  FAIL \(result.id): " + oneLine(details.compactMap { $0 }.joined(separator: "; "))
    }
    if failed.count > reasonLimit {
      lines.append("  \(failed.count - reasonLimit) more FAIL cases in summary.md")
    }
    let broken = cases.filter { $0.status == .broken }
    lines += broken.prefix(reasonLimit).map { "  BROKEN \($0.id): \(oneLine($0.setupSummary))" }
    if broken.count > reasonLimit {
      lines.append("  \(broken.count - reasonLimit) more BROKEN cases in summary.md")
    }
    let reasons = skipReasons
    lines += reasons.prefix(reasonLimit).map { "  \($0.count) skip (\($0.kind)): \($0.reason)" }
    if reasons.count > reasonLimit {
      lines.append("  \(reasons.count - reasonLimit) more skip reasons in summary.md")
    }
    lines.append(tally.closingLine)
    return lines.joined(separator: "\n")
  }

  /// The cases grouped by area, areas in order of first appearance.
  public var areas: [(name: String, cases: [CaseResult])] {
    var order: [String] = []
    var byArea: [String: [CaseResult]] = [:]
    for result in cases {
      if byArea[result.area] == nil { order.append(result.area) }
      byArea[result.area, default: []].append(result)
    }
    return order.map { ($0, byArea[$0] ?? []) }
  }

  private static func droppingRepeats(_ cases: [CaseResult], notes: inout [String]) -> [CaseResult]
  {
    var lastIndex: [String: Int] = [:]
    for (index, result) in cases.enumerated() {
      if lastIndex[result.id] != nil {
        notes.append("case \(result.id) appears more than once; the last record is kept")
      }
      lastIndex[result.id] = index
    }
    return cases.enumerated().filter { lastIndex[$0.element.id] == $0.offset }.map(\.element)
  }

  /// Merges the records of several test processes: the first record's identity, every feature
  /// (a feature any process found missing counts as missing), every limitation and fixture error
  /// once, and the largest expected case count of each area.
  private static func merge(_ records: [EnvironmentRecord], notes: inout [String])
    -> EnvironmentRecord?
  {
    guard var merged = records.first else { return nil }
    for record in records.dropFirst() {
      if record.kernel != merged.kernel || record.machine != merged.machine {
        notes.append(
          "test processes disagree on the kernel: \(merged.kernel) (\(merged.machine)) and "
            + "\(record.kernel) (\(record.machine)); the first is reported")
      }
      if record.pidNamespaceLevel != merged.pidNamespaceLevel {
        notes.append("test processes ran at different PID-namespace levels")
      }
      for (name, present) in record.features {
        if let earlier = merged.features[name], earlier != present {
          notes.append("test processes disagree on feature \(name); reported as missing")
        }
        merged.features[name] = (merged.features[name] ?? true) && present
      }
      for limitation in record.limitations where !merged.limitations.contains(limitation) {
        merged.limitations.append(limitation)
      }
      // Each process counts the fixtures it loaded; the largest count is what the run defines,
      // so a process that loaded fewer cannot hide the others' cases.
      if let counts = record.expectedCases {
        merged.expectedCases = (merged.expectedCases ?? [:]).merging(counts, uniquingKeysWith: max)
      }
      for error in record.fixtureErrors ?? [] where !(merged.fixtureErrors ?? []).contains(error) {
        merged.fixtureErrors = (merged.fixtureErrors ?? []) + [error]
      }
      merged.selection = merged.selection ?? record.selection
      merged.selectedCases = merged.selectedCases ?? record.selectedCases
      merged.suiteRevision = merged.suiteRevision ?? record.suiteRevision
      merged.setting = merged.setting ?? record.setting
      merged.pidNamespaceLevelEvidence =
        merged.pidNamespaceLevelEvidence ?? record.pidNamespaceLevelEvidence
      merged.timeoutScale = merged.timeoutScale ?? record.timeoutScale
    }
    return merged
  }
}

/// How many records of a log name one kernel release.
public struct KernelRecords: Sendable, Equatable {
  /// `uname -r`.
  public var release: String
  /// Case and environment records naming it.
  public var records: Int

  /// Creates a count.
  public init(release: String, records: Int) {
    self.release = release
    self.records = records
  }
}

/// A line of the result log that cannot be read.
public struct ResultLogError: Error, Equatable, CustomStringConvertible {
  /// The 1-based line number.
  public var line: Int
  /// What is wrong with the line.
  public var problem: String

  /// Creates an error for a line.
  public init(line: Int, problem: String) {
    self.line = line
    self.problem = problem
  }

  /// The line number and the problem, as in `line 3: missing key 'status'`.
  public var description: String { "line \(line): \(problem)" }
}

/// The field every record has, decoded first to pick the record type.
private struct RecordKind: Decodable {
  var record: String
}

extension DecodingError {
  /// One clause naming the field, without the decoder's internal context dump.
  fileprivate var briefDescription: String {
    func path(_ context: Context) -> String {
      context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }
        .joined(separator: ".")
    }
    switch self {
    case .keyNotFound(let key, let context):
      let parent = path(context)
      return "missing key '\(parent.isEmpty ? key.stringValue : parent + "." + key.stringValue)'"
    case .valueNotFound(_, let context): return "missing value for '\(path(context))'"
    case .typeMismatch(_, let context) where context.codingPath.isEmpty:
      return "not a JSON object"
    case .typeMismatch(let type, let context):
      return "'\(path(context))' is not of type \(type)"
    case .dataCorrupted(let context) where context.codingPath.isEmpty:
      return "not valid JSON"
    case .dataCorrupted(let context): return "invalid value for '\(path(context))'"
    @unknown default: return "\(self)"
    }
  }
}
