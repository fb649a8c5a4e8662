/// A parsed `conformance-report` command line.
public enum ReportCommand: Sendable, Equatable {
  /// Write every report for a log into a directory and print the console summary.
  case render(log: String, outputDirectory: String, selection: String?)
  /// Print the console summary of a log.
  case summary(log: String)
  /// Compare two logs and print the differences.
  case compare(before: String, after: String)
  /// Write the matrix of many runs (one per kernel and setting) as matrix.md and matrix.json.
  case matrix(runs: [MatrixRun], outputDirectory: String, fixtures: String?)
  /// Print every case id of the tables with its table's tags, or the tags, checking a selection.
  case list(fixtures: String, filter: String?, tagsOnly: Bool)
  /// Print each log's status and counts, and exit with the most severe status.
  case status(logs: [String], also: [ExitStatus])
  /// Print a log's cases (those with the given statuses) and its measured PID-namespace level.
  case cases(log: String, statuses: [String])
  /// Print the usage.
  case help

  /// The usage text `--help` prints.
  public static let usage = """
    usage: conformance-report render --log RESULTS.jsonl --out DIR [--selection TEXT]
           conformance-report summary --log RESULTS.jsonl
           conformance-report compare BEFORE.jsonl AFTER.jsonl
           conformance-report matrix --out DIR [--fixtures DIR] KERNEL[/SETTING]=RESULTS.jsonl...
           conformance-report list [--fixtures DIR] [--filter SELECTORS] [--tags]
           conformance-report status [--also STATUS]... RESULTS.jsonl...
           conformance-report cases [--status STATUS[,STATUS...]] RESULTS.jsonl
           conformance-report --help

    render   writes DIR/results.ktap, DIR/results.junit.xml, DIR/results.json and DIR/summary.md,
             then prints the console summary. --selection says how the run was narrowed, such as
             "filter: SetTid" (the log may say so itself): the summary then notes that its counts
             cover only those cases, and an area without any result counts as not selected.
    summary  prints only the console summary.
    compare  prints what changed between two runs, such as before and after a kernel upgrade.
             A case that vanished (unless it skipped before), PASS or KNOWN that became SKIP or
             BROKEN (lost coverage), and a later run that did not complete are regressions.
    matrix   writes DIR/matrix.md and DIR/matrix.json from runs on several kernels and settings
             (`6.1/root=results/6.1/root.jsonl`, one column each, in the order given): one row
             per case whose result differs between columns, with what explains it (a versioned
             expectation, a skip reason, a known bug; FAIL and BROKEN are unexplained), then
             each column's totals. --fixtures DIR adds the kernel versions the tables name and
             the matrix kernels on either side of each. Exit 1 when a cell is FAIL or BROKEN.
    list     prints every case id of the tables in DIR (default Fixtures) with its table's
             tags, one per line: `ID<TAB>tag1,tag2`. --tags prints each tag once instead.
             --filter SELECTORS (case ids or tag:NAME, comma- or space-separated) checks every
             selector and lists only what the selection selects; 64 for a selector that is malformed or selects no case.
             A table that does not load is named on stderr and left out.
    status   prints one line per log, `LOG<TAB>STATUS<TAB>KERNEL<TAB>pass=N fail=N skip=N
             known=N broken=N`, explains any status but 0 and 1 on stderr, and exits with the
             most severe status of the logs (as render would) and of each --also STATUS, a
             status the caller found itself (3 a run without a log, 125 a VM that did not run):
             1, then 3, then 125, then 2, then 0. A log that cannot be read (64) or is
             malformed or empty (65) is named on stderr and decides the exit status, after the
             other logs are printed.
    cases    prints the log's cases as they were recorded, one per line: `ID<TAB>STATUS<TAB>
             REASON` (only those of --status PASS,FAIL,... when given), then `level<TAB>N`, the
             suite's PID-namespace level as the environment record measured it (`?` unmeasured).
             A log cut short (a killed run) is read up to its last whole record. 64 or 65 as
             status.

    Every report shows BROKEN cases (the case's own setup failed: the step, errno and likely
    cause) apart from FAIL, and says when the run did not complete: fewer results than the
    fixtures define for an area, or a fixture that failed to load.

    exit status (render, summary): 0 every case passed, skipped or is a known bug, none BROKEN,
    and the run is complete; 1 a FAIL; 3 the run did not complete (results missing, a fixture
    failed to load, or no case at all although the fixtures define some); 2 a case is BROKEN
    or the environment prevented a meaningful run (no case ran to a verdict). A FAIL wins over
    an incomplete run, which wins over 2.
    exit status (compare): 0 no regression; 1 a regression.
    both: 64 usage error or unreadable input (named as path and errno: `results.jsonl: EISDIR
    (21): Is a directory`); 65 malformed or empty log (no record at all), or a log holding the
    runs of several kernels; 73 a report could not be written (DIR is created if missing).
    """

  /// Parses the arguments that follow the program name.
  public static func parse(_ arguments: [String]) throws(UsageError) -> ReportCommand {
    guard let verb = arguments.first else { throw UsageError("missing command") }
    if arguments.contains("--help") || arguments.contains("-h") { return .help }
    let rest = Array(arguments.dropFirst())
    switch verb {
    case "render":
      let options = try options(rest, allowed: ["--log", "--out", "--selection"])
      return .render(
        log: try required("--log", options), outputDirectory: try required("--out", options),
        selection: options["--selection"])
    case "summary":
      return .summary(log: try required("--log", try options(rest, allowed: ["--log"])))
    case "compare":
      guard rest.count == 2, !rest.contains(where: { $0.hasPrefix("--") }) else {
        throw UsageError("compare takes exactly two log files, BEFORE and AFTER")
      }
      return .compare(before: rest[0], after: rest[1])
    case "matrix":
      return try parseMatrix(rest)
    case "list":
      let tagsOnly = rest.contains("--tags")
      let options = try options(
        rest.filter { $0 != "--tags" }, allowed: ["--fixtures", "--filter"])
      return .list(
        fixtures: options["--fixtures"] ?? "Fixtures", filter: options["--filter"],
        tagsOnly: tagsOnly)
    case "status":
      return try parseStatus(rest)
    case "cases":
      let options = try options(Array(rest.dropLast()), allowed: ["--status"])
      guard let log = rest.last, !log.hasPrefix("--") else { throw UsageError("cases needs a log") }
      let statuses = options["--status"].map { $0.split(separator: ",").map(String.init) } ?? []
      let known = Set(CaseStatus.allCases.map(\.rawValue))
      if let unknown = statuses.first(where: { !known.contains($0) }) {
        throw UsageError("--status '\(unknown)': one of \(known.sorted().joined(separator: ", "))")
      }
      return .cases(log: log, statuses: statuses)
    default:
      throw UsageError("unknown command '\(verb)'")
    }
  }

  private static func parseMatrix(_ arguments: [String]) throws(UsageError) -> ReportCommand {
    var optionArguments: [String] = []
    var runs: [MatrixRun] = []
    var remaining = arguments[...]
    while let argument = remaining.popFirst() {
      if argument.hasPrefix("--") {
        optionArguments.append(argument)
        if let value = remaining.popFirst() { optionArguments.append(value) }
      } else {
        runs.append(try MatrixRun(argument))
      }
    }
    let options = try options(optionArguments, allowed: ["--out", "--fixtures"])
    guard !runs.isEmpty else { throw UsageError("matrix needs at least one KERNEL=LOG") }
    let names = runs.map { $0.kernel + "/" + $0.setting }
    guard Set(names).count == names.count else {
      throw UsageError("matrix: a KERNEL/SETTING is given twice")
    }
    return .matrix(
      runs: runs, outputDirectory: try required("--out", options), fixtures: options["--fixtures"])
  }

  private static func parseStatus(_ arguments: [String]) throws(UsageError) -> ReportCommand {
    var logs: [String] = []
    var also: [ExitStatus] = []
    var remaining = arguments[...]
    while let argument = remaining.popFirst() {
      if argument == "--also" {
        guard let value = remaining.popFirst(), let number = Int32(value),
          let status = ExitStatus(rawValue: number), ExitStatus.precedence.contains(status)
        else {
          throw UsageError("--also needs a run status: 0, 1, 2, 3 or 125")
        }
        also.append(status)
      } else if argument.hasPrefix("--") {
        throw UsageError("unexpected argument '\(argument)'")
      } else {
        logs.append(argument)
      }
    }
    guard !logs.isEmpty || !also.isEmpty else {
      throw UsageError("status needs a log or an --also STATUS")
    }
    return .status(logs: logs, also: also)
  }

  private static func options(_ arguments: [String], allowed: Set<String>) throws(UsageError)
    -> [String: String]
  {
    var options: [String: String] = [:]
    var remaining = arguments[...]
    while let name = remaining.popFirst() {
      guard allowed.contains(name) else { throw UsageError("unexpected argument '\(name)'") }
      guard let value = remaining.popFirst(), !value.hasPrefix("--") else {
        throw UsageError("\(name) needs a value")
      }
      guard options.updateValue(value, forKey: name) == nil else {
        throw UsageError("\(name) given twice")
      }
    }
    return options
  }

  private static func required(_ name: String, _ options: [String: String]) throws(UsageError)
    -> String
  {
    guard let value = options[name] else { throw UsageError("missing \(name)") }
    return value
  }
}

/// A command line `conformance-report` cannot run.
public struct UsageError: Error, Equatable, CustomStringConvertible {
  /// What is wrong, such as `missing --log`.
  public var description: String

  /// Creates an error with its message.
  public init(_ description: String) { self.description = description }
}

/// One column of `conformance-report matrix`: `6.1/root=results/6.1/root.jsonl`.
public struct MatrixRun: Sendable, Equatable {
  /// The kernel's label, such as `6.1`.
  public var kernel: String
  /// The setting the suite ran in, such as `root`; empty when not given.
  public var setting: String
  /// The result log.
  public var log: String

  /// Reads `KERNEL[/SETTING]=LOG`.
  public init(_ argument: String) throws(UsageError) {
    guard let equals = argument.firstIndex(of: "="), equals != argument.startIndex,
      argument.index(after: equals) != argument.endIndex
    else {
      throw UsageError("matrix: '\(argument)' is not KERNEL[/SETTING]=LOG")
    }
    let name = argument[..<equals]
    let parts = name.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
    kernel = String(parts[0])
    setting = parts.count > 1 ? String(parts[1]) : ""
    log = String(argument[argument.index(after: equals)...])
    guard !kernel.isEmpty else { throw UsageError("matrix: '\(argument)' names no kernel") }
  }

  /// Creates a column from its parts.
  public init(kernel: String, setting: String = "", log: String) {
    self.kernel = kernel
    self.setting = setting
    self.log = log
  }
}
