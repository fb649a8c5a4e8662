/// What `conformance-report` does, apart from the process: the tests run it with their own
/// output sinks and files.
public struct ReportTool {
  /// A reason to stop, with the status to exit with and the message for stderr.
  struct Stop: Error {
    var status: ExitStatus
    var message: String
  }

  /// Receives what the command prints on stdout, one chunk at a time (lines end in `\n`).
  public var standardOutput: (String) -> Void
  /// Receives each line for stderr, without the program name.
  public var standardError: (String) -> Void

  /// Creates a tool printing through the given sinks.
  public init(
    standardOutput: @escaping (String) -> Void, standardError: @escaping (String) -> Void
  ) {
    self.standardOutput = standardOutput
    self.standardError = standardError
  }

  /// Runs a parsed command line and returns its exit status; a reason to stop early is printed
  /// on stderr.
  public func run(_ command: ReportCommand) -> ExitStatus {
    do {
      return try perform(command)
    } catch {
      standardError(error.message)
      return error.status
    }
  }

  func perform(_ command: ReportCommand) throws(Stop) -> ExitStatus {
    switch command {
    case .summary(let log):
      return summarize(try readNonEmptyLog(log))
    case .render(let log, let directory, let selection):
      return try render(log: log, into: directory, selection: selection)
    case .compare(let before, let after):
      let comparison = RunComparison(
        before: try readNonEmptyLog(before), after: try readNonEmptyLog(after))
      standardOutput(comparison.markdown())
      return comparison.isRegression ? .failure : .success
    case .matrix(let runs, let directory, let fixtures):
      return try writeMatrix(runs: runs, into: directory, fixtures: fixtures)
    case .list(let fixtures, let filter, let tagsOnly):
      return try list(fixtures: fixtures, filter: filter, tagsOnly: tagsOnly)
    case .status(let logs, let also):
      return try status(logs: logs, also: also)
    case .cases(let log, let statuses):
      return try cases(log: log, statuses: statuses)
    }
  }

  /// Reads and parses a log, sorted by area and id. A file that cannot be read is unreadable
  /// input (64); text that is not a log, or a log of several kernels, is a data error (65).
  /// With `wholeRecordsOnly`, a last line without its newline (a run killed while writing it)
  /// is left out rather than malformed.
  func readLog(_ path: String, wholeRecordsOnly: Bool = false) throws(Stop) -> ResultLog {
    var bytes: [UInt8]
    do {
      bytes = try FileAccess.read(path)
    } catch {
      throw Stop(status: .usage, message: "cannot read the log \(error)")
    }
    if wholeRecordsOnly { bytes = Array(bytes[..<((bytes.lastIndex(of: 0x0a) ?? -1) + 1)]) }
    guard let text = String(validating: bytes, as: UTF8.self) else {
      throw Stop(status: .malformedLog, message: "\(path): not UTF-8 text")
    }
    var log: ResultLog
    do {
      log = try ResultLog.parse(text)
    } catch {
      throw Stop(status: .malformedLog, message: "\(path): \(error)")
    }
    // One report per kernel: a log that mixes kernels would be headed with one of them and judge
    // the other's cases as repeats.
    guard log.kernels.count <= 1 else {
      let counts = log.kernels.map {
        "\($0.release) (\($0.records) record\($0.records == 1 ? "" : "s"))"
      }
      throw Stop(
        status: .malformedLog,
        message: "\(path): the log holds the runs of \(log.kernels.count) kernels, "
          + counts.joined(separator: ", ")
          + "; a log must hold one kernel's run: write each kernel's run to its own log")
    }
    for note in log.notes { standardError("warning: \(path): \(note)") }
    // Tests run in parallel, so the log's order changes from run to run; sorted, two runs'
    // reports line up.
    log.cases.sort { ($0.area, $0.id) < ($1.area, $1.id) }
    return log
  }

  /// Reads a log that holds at least one record. A log without any is no run at all (the test
  /// process never started writing): its reports would show an empty plan and `0 failed`, which
  /// a consumer could take for a clean run, and comparing with it would list every case as
  /// vanished or new. So it is refused as a data error.
  func readNonEmptyLog(_ path: String) throws(Stop) -> ResultLog {
    let log = try readLog(path)
    guard !log.isEmpty else {
      throw Stop(
        status: .malformedLog,
        message: "\(path): the log is empty (no case and no environment record): no run to report"
      )
    }
    return log
  }

  /// Prints the console summary and returns the status the log calls for, explaining any status
  /// other than a plain pass or fail on stderr.
  func summarize(_ log: ResultLog, selection: String? = nil) -> ExitStatus {
    standardOutput(log.consoleSummary(selection: selection) + "\n")
    let verdict = RunVerdict(log, selection: selection)
    if let explanation = verdict.explanation {
      for line in explanation.split(separator: "\n") { standardError(String(line)) }
    }
    return verdict.status
  }

  func render(log path: String, into directory: String, selection: String?) throws(Stop)
    -> ExitStatus
  {
    let log = try readNonEmptyLog(path)
    let json: String
    let kcidb: String
    do {
      json = try log.json(selection: selection)
      kcidb = try log.kcidb(selection: selection)
    } catch {
      throw Stop(
        status: .malformedLog, message: "\(path): cannot render the JSON reports: \(error)")
    }
    let outputs = [
      ("results.ktap", log.ktap(selection: selection)),
      ("results.kcidb.json", kcidb),
      ("results.junit.xml", log.junitXML(selection: selection)),
      ("results.json", json),
      ("summary.md", log.markdown(selection: selection)),
    ]
    do {
      try FileAccess.makeDirectories(directory)
      for (name, text) in outputs {
        try FileAccess.write(text, to: directory + "/" + name)
      }
    } catch {
      throw Stop(status: .cannotWrite, message: "cannot write \(error)")
    }
    return summarize(log, selection: selection)
  }
}
