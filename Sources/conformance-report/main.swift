import ConformanceResults
import Foundation

/// A reason to stop, with the status to exit with and the message for stderr.
struct Stop: Error {
  var status: ExitStatus
  var message: String
}

func readLog(_ path: String) throws(Stop) -> ResultLog {
  let data: Data
  do {
    data = try Data(contentsOf: URL(fileURLWithPath: path))
  } catch {
    throw Stop(status: .usage, message: "cannot read \(path): \(error.localizedDescription)")
  }
  guard let text = String(data: data, encoding: .utf8) else {
    throw Stop(status: .malformedLog, message: "\(path): not UTF-8 text")
  }
  do {
    var log = try ResultLog.parse(text)
    for note in log.notes { printError("warning: \(path): \(note)") }
    // Tests run in parallel, so the log's order changes from run to run; sorted, two runs'
    // reports line up.
    log.cases.sort { ($0.area, $0.id) < ($1.area, $1.id) }
    return log
  } catch {
    throw Stop(status: .malformedLog, message: "\(path): \(error)")
  }
}

func printError(_ message: String) {
  FileHandle.standardError.write(Data("conformance-report: \(message)\n".utf8))
}

/// Prints the console summary and returns the status the log calls for, explaining any status
/// other than a plain pass or fail on stderr.
func summarize(_ log: ResultLog, selection: String? = nil) -> ExitStatus {
  print(log.consoleSummary(selection: selection))
  let verdict = RunVerdict(log, selection: selection)
  if let explanation = verdict.explanation {
    for line in explanation.split(separator: "\n") { printError(String(line)) }
  }
  return verdict.status
}

func render(log path: String, into directory: String, selection: String?) throws(Stop)
  -> ExitStatus
{
  let log = try readNonEmptyLog(path)
  let outputs: [(name: String, text: () throws -> String)] = [
    ("results.ktap", { log.ktap(selection: selection) }),
    ("results.junit.xml", { log.junitXML(selection: selection) }),
    ("results.json", { try log.json(selection: selection) }),
    ("summary.md", { log.markdown(selection: selection) }),
  ]
  let folder = URL(fileURLWithPath: directory, isDirectory: true)
  for output in outputs {
    let file = folder.appendingPathComponent(output.name)
    do {
      try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
      try Data(output.text().utf8).write(to: file)
    } catch {
      throw Stop(status: .cannotWrite, message: "cannot write \(file.path): \(error)")
    }
  }
  return summarize(log, selection: selection)
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
      message: "\(path): the log is empty (no case and no environment record): no run to report")
  }
  return log
}

func run(_ arguments: [String]) throws(Stop) -> ExitStatus {
  let command: ReportCommand
  do {
    command = try ReportCommand.parse(arguments)
  } catch {
    throw Stop(status: .usage, message: "\(error) (see conformance-report --help)")
  }
  switch command {
  case .help:
    print(ReportCommand.usage)
    return .success
  case .summary(let log):
    return summarize(try readNonEmptyLog(log))
  case .render(let log, let directory, let selection):
    return try render(log: log, into: directory, selection: selection)
  case .compare(let before, let after):
    let comparison = RunComparison(
      before: try readNonEmptyLog(before), after: try readNonEmptyLog(after))
    print(comparison.markdown(), terminator: "")
    return comparison.isRegression ? .failure : .success
  }
}

do {
  exit(try run(Array(CommandLine.arguments.dropFirst())).rawValue)
} catch {
  printError(error.message)
  exit(error.status.rawValue)
}
