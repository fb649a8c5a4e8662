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

/// Prints the console summary and returns the status the log calls for, explaining a run the
/// environment prevented.
func summarize(_ log: ResultLog) -> ExitStatus {
  print(log.consoleSummary())
  let verdict = RunVerdict(log)
  if let explanation = verdict.explanation { printError(explanation) }
  return verdict.status
}

func render(log path: String, into directory: String, selection: String?) throws(Stop)
  -> ExitStatus
{
  let log = try readLog(path)
  let outputs: [(name: String, text: () throws -> String)] = [
    ("results.ktap", { log.ktap() }),
    ("results.junit.xml", { log.junitXML() }),
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
  return summarize(log)
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
    return summarize(try readLog(log))
  case .render(let log, let directory, let selection):
    return try render(log: log, into: directory, selection: selection)
  case .compare(let before, let after):
    let comparison = RunComparison(before: try readLog(before), after: try readLog(after))
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
