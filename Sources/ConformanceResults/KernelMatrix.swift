import Foundation

/// The matrix of many runs: one column per kernel and setting, one row per case whose result
/// differs between columns, then each column's totals.
///
/// A distribution maintainer reads it before shipping a kernel: a row says at once where a
/// kernel changed an errno, and its explanation says whether a versioned expectation or a
/// documented bug accounts for the change, or whether nothing does (a FAIL or BROKEN cell).
public struct KernelMatrix: Sendable {
  /// One column: the result log of one kernel in one setting.
  public struct Column: Sendable, Equatable {
    /// The kernel's label, such as `6.1` or `native`.
    public var kernel: String
    /// How the suite ran, such as `root`, `userns` or `nonroot`; empty when the run names none.
    public var setting: String
    /// The run.
    public var log: ResultLog

    /// Creates a column.
    public init(kernel: String, setting: String = "", log: ResultLog) {
      self.kernel = kernel
      self.setting = setting
      self.log = log
    }

    /// `6.1 root`, the column's heading.
    public var name: String { setting.isEmpty ? kernel : kernel + " " + setting }
  }

  /// One case's result in one column.
  public struct Cell: Sendable, Equatable, Encodable {
    public var status: CaseStatus
    public var expected: String?
    public var observed: String?
    public var reason: String?

    init(_ result: CaseResult) {
      status = result.status
      expected = result.expected
      observed = result.observed ?? result.setupFailure?.errno
      // A missing feature's skip reason names the release and an inode: the same cause reads
      // differently on every run, so the feature's name stands for it.
      let missingFeature = result.skipKind == .feature ? result.feature : nil
      reason =
        result.knownBug?.title ?? result.setupFailure?.summary
        ?? missingFeature.map { "the kernel lacks \($0)" }
        ?? (result.status == .pass ? nil : result.reason)
    }

    /// `PASS EINVAL`, `FAIL EEXIST (expected EPERM)`, `SKIP`: the status and what the kernel
    /// answered, without a success's named fields (`success (pid 4201, NSpid 4231 ...)` is
    /// `success`): rows are compared on it, since fields such as a PID derived from the
    /// kernel's pid_max differ between kernels while the case passes on each; the JSON keeps
    /// them.
    public var text: String {
      var text = status.rawValue
      if let observed {
        text +=
          " " + (observed.range(of: " (").map { String(observed[..<$0.lowerBound]) } ?? observed)
      }
      if status == .fail, let expected { text += " (expected \(expected))" }
      return text
    }
  }

  /// A case whose result differs between columns.
  public struct Row: Sendable, Equatable, Encodable {
    public var id: String
    public var title: String
    /// The cells by column name; a column without this case has none.
    public var cells: [String: Cell]
    /// What accounts for the difference, one sentence; it starts with `UNEXPLAINED` when a cell
    /// is FAIL or BROKEN.
    public var explanation: String
    /// Whether a versioned expectation, a skip reason or a known bug accounts for every cell.
    public var isExplained: Bool
  }

  /// A kernel version where a fixture's expectation or a feature changes, and the kernels of the
  /// matrix on either side of it.
  public struct Boundary: Sendable, Equatable, Encodable {
    /// `7.0`.
    public var version: String
    /// Where the fixtures name it: `set-tid-order.json: set_tid.order.no-init.unprivileged`.
    public var sources: [String]
    /// The release of the newest column kernel before the boundary, if any.
    public var below: String?
    /// The release of the oldest column kernel at or after it, if any.
    public var atOrAbove: String?

    /// Whether the matrix has a kernel on each side.
    public var isCovered: Bool { below != nil && atOrAbove != nil }
  }

  public var columns: [Column]
  public var rows: [Row]
  public var boundaries: [Boundary]
  /// How many distinct cases the columns hold.
  public var caseCount: Int

  /// Builds the matrix from its columns, in the order given, and the version boundaries the
  /// fixtures name (`version: [source]`, from `FixtureBoundaries.scan`).
  public init(columns: [Column], boundaries: [String: [String]] = [:]) {
    self.columns = columns
    var titles: [String: String] = [:]
    var order: [String] = []
    for column in columns {
      for result in column.log.cases where titles[result.id] == nil {
        titles[result.id] = result.title
        order.append(result.id)
      }
    }
    order.sort()
    caseCount = order.count
    let byColumn = columns.map { column in
      Dictionary(column.log.cases.map { ($0.id, Cell($0)) }, uniquingKeysWith: { $1 })
    }
    rows = order.compactMap { id in
      let cells = byColumn.map { $0[id] }
      guard Set(cells.map { $0?.text ?? "" }).count > 1 else { return nil }
      var named: [String: Cell] = [:]
      for (column, cell) in zip(columns, cells) { named[column.name] = cell }
      let (explanation, explained) = Self.explain(cells: cells, columns: columns)
      return Row(
        id: id, title: titles[id] ?? id, cells: named, explanation: explanation,
        isExplained: explained)
    }
    let releases = columns.compactMap { column in
      KernelVersion(release: column.log.environment?.kernelVersion ?? column.log.kernel).map {
        (release: column.log.kernel, version: $0)
      }
    }
    let named = boundaries.keys.compactMap { text in
      KernelVersion(release: text).map { (text: text, version: $0) }
    }
    self.boundaries = named.sorted { $0.version < $1.version }.map { text, version in
      Boundary(
        version: text, sources: (boundaries[text] ?? []).sorted(),
        below: releases.filter { $0.version < version }.max { $0.version < $1.version }?.release,
        atOrAbove: releases.filter { $0.version >= version }.min { $0.version < $1.version }?
          .release)
    }
  }

  /// Why a row's cells differ: the expectations per kernel, the skip reasons, the known bugs;
  /// FAIL and BROKEN cells are named first, since nothing in the fixtures accounts for them.
  private static func explain(cells: [Cell?], columns: [Column]) -> (String, Bool) {
    var parts: [String] = []
    let bad = zip(columns, cells).filter { $1?.status == .fail || $1?.status == .broken }
    if !bad.isEmpty {
      parts.append(
        "UNEXPLAINED: "
          + bad.map { "\($1?.status.rawValue ?? "") on \($0.name)" }.joined(separator: ", "))
    }
    if cells.contains(where: { $0 == nil }) {
      let missing = zip(columns, cells).filter { $1 == nil }.map(\.0.name)
      parts.append("no result on " + missing.joined(separator: ", "))
    }
    // Expectations in column order, merged over consecutive kernels.
    var expectations: [(value: String, kernels: [String])] = []
    for (column, cell) in zip(columns, cells) {
      guard let cell, cell.status != .skip, let expected = cell.expected else { continue }
      if let index = expectations.firstIndex(where: { $0.value == expected }) {
        if !expectations[index].kernels.contains(column.kernel) {
          expectations[index].kernels.append(column.kernel)
        }
      } else {
        expectations.append((expected, [column.kernel]))
      }
    }
    if expectations.count > 1 {
      parts.append(
        "versioned expectation: "
          + expectations.map { "\($0.value) on \($0.kernels.joined(separator: " "))" }
          .joined(separator: "; "))
    }
    var reasons: [String] = []
    for cell in cells.compactMap(\.self) where cell.status == .skip || cell.status == .known {
      let reason = cell.status.rawValue + ": " + (cell.reason ?? "no reason given")
      if !reasons.contains(reason) { reasons.append(reason) }
    }
    parts += reasons.prefix(3)
    if reasons.count > 3 { parts.append("\(reasons.count - 3) more reasons") }
    return (parts.joined(separator: "; "), bad.isEmpty && !parts.isEmpty)
  }

  /// The Markdown matrix: the differing cases, the totals per column, then the version
  /// boundaries and which of them have no kernel on one side.
  public func markdown(title: String = "Kernel matrix") -> String {
    var lines = ["# \(title)", ""]
    let kernels = columns.reduce(into: [String]()) {
      if !$0.contains($1.kernel) { $0.append($1.kernel) }
    }
    lines.append(
      "\(columns.count) runs (\(kernels.count) kernels × settings), \(caseCount) cases; "
        + "\(rows.count) differ between runs"
        + (rows.contains { !$0.isExplained }
          ? ", \(rows.filter { !$0.isExplained }.count) of them unexplained."
          : ", each explained by its expectation, a skip reason or a known bug."))
    lines.append("")
    lines.append("## Cases whose result differs")
    lines.append("")
    if rows.isEmpty {
      lines.append("Every case has the same result in every run.")
    } else {
      lines.append("| case | " + columns.map(\.name).joined(separator: " | ") + " | why |")
      lines.append("|---|" + String(repeating: "---|", count: columns.count) + "---|")
      for row in rows {
        let cells = columns.map { markdownInline(row.cells[$0.name]?.text ?? "—") }
        lines.append(
          "| `\(row.id)` | " + cells.joined(separator: " | ") + " | "
            + markdownInline(row.explanation) + " |")
      }
    }
    lines += ["", "## Totals", ""]
    lines.append("| kernel | setting | release | PASS | FAIL | SKIP | KNOWN | BROKEN | missing |")
    lines.append("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for column in columns {
      let tally = column.log.tally
      let missing = column.log.completeness().missingCases
      lines.append(
        "| \(column.kernel) | \(column.setting.isEmpty ? "—" : column.setting) | "
          + "\(column.log.kernel) | \(tally.pass) | \(tally.fail) | \(tally.skip) | "
          + "\(tally.known) | \(tally.broken) | \(missing) |")
    }
    if !boundaries.isEmpty {
      lines += ["", "## Version boundaries in the fixtures", ""]
      lines.append("| boundary | newest kernel before | oldest kernel from | named by |")
      lines.append("|---|---|---|---|")
      for boundary in boundaries {
        lines.append(
          "| \(boundary.version) | \(boundary.below ?? "**none**") | "
            + "\(boundary.atOrAbove ?? "**none**") | "
            + markdownInline(boundary.sources.joined(separator: ", ")) + " |")
      }
      let uncovered = boundaries.filter { !$0.isCovered }.map(\.version)
      lines.append("")
      lines.append(
        uncovered.isEmpty
          ? "Every boundary has a kernel on each side."
          : "No kernel on one side of: " + uncovered.joined(separator: ", ") + ".")
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// The same as JSON: `columns` (kernel, setting, release, totals), `rows`, `boundaries`.
  public func json() throws -> String {
    struct ColumnJSON: Encodable {
      var name, kernel, setting, release: String
      var totals: Tally
      var missing: Int
      var limitations: [String]
    }
    struct MatrixJSON: Encodable {
      var columns: [ColumnJSON]
      var caseCount: Int
      var rows: [Row]
      var boundaries: [Boundary]
    }
    let value = MatrixJSON(
      columns: columns.map {
        ColumnJSON(
          name: $0.name, kernel: $0.kernel, setting: $0.setting, release: $0.log.kernel,
          totals: $0.log.tally, missing: $0.log.completeness().missingCases,
          limitations: $0.log.environment?.limitations ?? [])
      }, caseCount: caseCount, rows: rows, boundaries: boundaries)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
  }

  /// Whether any cell is FAIL or BROKEN.
  public var hasUnexplainedResults: Bool { rows.contains { !$0.isExplained } }
}

/// The kernel versions the fixtures name, read through the fixture model with calls ignored.
public enum FixtureBoundaries {
  /// Every `from` and `until` of an expectation or a known bug in the tables, and every
  /// feature's `since` in `features.json`, with where it appears (`file: id`), keyed by the
  /// version as `KernelVersion.description` spells it.
  public static func scan(directory: String) throws -> [String: [String]] {
    let folder = URL(fileURLWithPath: directory, isDirectory: true)
    var found: [String: [String]] = [:]
    func note(_ version: KernelVersion?, _ source: String) {
      guard let version else { return }
      if !(found[version.description] ?? []).contains(source) {
        found[version.description, default: []].append(source)
      }
    }
    for file in try FixtureTables.names(in: folder) {
      for row in try FixtureFile<Ignored>.load(file, from: folder).cases {
        let ranges = row.expect.compactMap(\.kernels) + (row.known ?? []).flatMap(\.kernels)
        for range in ranges {
          note(range.from, "\(file): \(row.id)")
          note(range.until, "\(file): \(row.id)")
        }
      }
    }
    let features = "features.json"
    if FileManager.default.fileExists(atPath: folder.appendingPathComponent(features).path) {
      for feature in try FeatureDefinition<Ignored>.table(in: folder).values {
        note(feature.since, "\(features): \(feature.name)")
      }
    }
    return found
  }
}

extension ReportTool {
  /// `conformance-report matrix`: reads every run's log, writes DIR/matrix.md and
  /// DIR/matrix.json, prints one line and each unexplained row; 1 when a cell is FAIL or BROKEN.
  func writeMatrix(runs: [MatrixRun], into directory: String, fixtures: String?) throws(Stop)
    -> ExitStatus
  {
    var columns: [KernelMatrix.Column] = []
    for run in runs {
      columns.append(
        KernelMatrix.Column(
          kernel: run.kernel, setting: run.setting, log: try readNonEmptyLog(run.log)))
    }
    var boundaries: [String: [String]] = [:]
    if let fixtures {
      do {
        boundaries = try FixtureBoundaries.scan(directory: fixtures)
      } catch {
        throw Stop(status: .usage, message: "cannot read the fixtures in \(fixtures): \(error)")
      }
    }
    let matrix = KernelMatrix(columns: columns, boundaries: boundaries)
    let json: String
    do {
      json = try matrix.json()
    } catch {
      throw Stop(status: .malformedLog, message: "cannot render matrix.json: \(error)")
    }
    do {
      try FileAccess.makeDirectories(directory)
      try FileAccess.write(matrix.markdown(), to: directory + "/matrix.md")
      try FileAccess.write(json, to: directory + "/matrix.json")
    } catch {
      throw Stop(status: .cannotWrite, message: "cannot write \(error)")
    }
    let unexplained = matrix.rows.filter { !$0.isExplained }
    standardOutput(
      "\(columns.count) runs, \(matrix.caseCount) cases, \(matrix.rows.count) differ, "
        + "\(unexplained.count) unexplained\n")
    for row in unexplained { standardOutput("  \(row.id): \(row.explanation)\n") }
    return matrix.hasUnexplainedResults ? .failure : .success
  }
}
