/// What a `conformance-report` command line asks for, as the `ReportCommandLine` layer parses it.
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
}

/// A command line `conformance-report` cannot run.
public struct UsageError: Error, Equatable, CustomStringConvertible {
  /// What is wrong, such as `Missing expected argument '--out <dir>'`.
  public var description: String
  /// The command whose `--help` describes the right usage, such as `conformance-report render`.
  public var command: String

  /// Creates an error with its message and the command it concerns.
  public init(_ description: String, command: String = "conformance-report") {
    self.description = description
    self.command = command
  }
}

/// One column of `conformance-report matrix`: `6.1/root=results/6.1/root.jsonl`.
public struct MatrixRun: Sendable, Equatable {
  /// The kernel's label, such as `6.1`.
  public var kernel: String
  /// The setting the suite ran in, such as `root`; empty when not given.
  public var setting: String
  /// The result log.
  public var log: String

  /// Reads `KERNEL[/SETTING]=LOG`; the error says what is wrong with it, for ArgumentParser to
  /// put after the argument it names.
  public init(_ argument: String) throws(UsageError) {
    guard let equals = argument.firstIndex(of: "="), equals != argument.startIndex,
      argument.index(after: equals) != argument.endIndex
    else {
      throw UsageError("a run is KERNEL[/SETTING]=LOG", command: "conformance-report matrix")
    }
    let name = argument[..<equals]
    let parts = name.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
    kernel = String(parts[0])
    setting = parts.count > 1 ? String(parts[1]) : ""
    log = String(argument[argument.index(after: equals)...])
    guard !kernel.isEmpty else {
      throw UsageError("a run names its kernel", command: "conformance-report matrix")
    }
  }

  /// Creates a column from its parts.
  public init(kernel: String, setting: String = "", log: String) {
    self.kernel = kernel
    self.setting = setting
    self.log = log
  }
}
