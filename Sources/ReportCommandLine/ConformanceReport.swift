import ArgumentParser
import ConformanceResults

/// `conformance-report`: its subcommands, the help ArgumentParser generates from them, the
/// completion scripts (`--generate-completion-script bash|zsh|fish`) and the man page
/// (`swift package plugin generate-manual`).
///
/// `ReportCommandLine.main` runs it, not ArgumentParser's `main()`: a bad command line is one
/// line on stderr and exit 64, and the work is `ReportTool`'s. The discussions hold no blank
/// line: the man page plugin copies them into mdoc as they are, where a blank line is a warning.
public struct ConformanceReport: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "conformance-report",
    abstract:
      "Reports, compares and judges the result logs of the PID-namespace conformance suite.",
    discussion: """
      Every report shows BROKEN cases (the case's own setup failed: the step, errno and likely \
      cause) apart from FAIL, and says when the run did not complete: fewer results than the \
      fixtures define for an area, or a fixture that failed to load.
      Exit status (render, summary, status): 0 every case passed, skipped or is a known bug, \
      none BROKEN, and the run is complete; 1 a FAIL; 3 the run did not complete (results \
      missing, a fixture failed to load, or no case at all although the fixtures define some); \
      2 a case is BROKEN or the environment prevented a meaningful run (no case ran to a \
      verdict). A FAIL wins over an incomplete run, which wins over 2.
      Exit status (compare): 0 no regression; 1 a regression.
      Exit status (matrix): 0 no run has a FAIL or BROKEN case; 1 one has.
      Every command: 64 bad usage (an unknown option, an option without its value, a selector \
      that selects no case) or unreadable input (named as path and errno: `results.jsonl: \
      EISDIR (21): Is a directory`); 65 malformed or empty log (no record at all), or a log \
      holding the runs of several kernels; 73 a report could not be written (DIR is created if \
      missing). --help prints the usage and exits 0.
      """,
    subcommands: [
      Render.self, Summary.self, Compare.self, Matrix.self, List.self, Status.self, Cases.self,
    ])

  public init() {}

  /// Without a subcommand there is nothing to do: bad usage, as it was before ArgumentParser.
  public func run() throws {
    throw ValidationError("missing command")
  }
}

/// A subcommand that runs as one `ReportCommand`.
protocol ReportSubcommand: ParsableCommand {
  /// What `ReportTool` runs for it.
  var command: ReportCommand { get }
}

/// Parses `conformance-report`'s command line and runs it.
public enum ReportCommandLine {
  /// What a command line asks for.
  public enum Request: Equatable, Sendable {
    /// A report command for `ReportTool`.
    case run(ReportCommand)
    /// Text for stdout and exit 0: help, a completion script, the tool's description for the
    /// man page.
    case print(String)
  }

  /// Parses the arguments that follow the program name. Every command line ArgumentParser
  /// rejects is bad usage (its own exit code for them is 64, `EX_USAGE`, too).
  public static func parse(_ arguments: [String]) throws(UsageError) -> Request {
    let command = helpCommand(arguments)
    if let repeated = repeatedOption(arguments) {
      throw UsageError("\(repeated) given twice", command: command)
    }
    do {
      var parsed = try ConformanceReport.parseAsRoot(arguments)
      if let report = parsed as? any ReportSubcommand { return .run(report.command) }
      // The root (no subcommand: bad usage) or `help SUBCOMMAND` (its help).
      try parsed.run()
      return .print("")
    } catch {
      guard ConformanceReport.exitCode(for: error) == .success else {
        throw UsageError(ConformanceReport.message(for: error), command: command)
      }
      return .print(ConformanceReport.fullMessage(for: error))
    }
  }

  /// Runs the command line that follows the program name with `tool` and returns its exit
  /// status. A bad command line is one line for stderr, naming the `--help` to read.
  public static func main(_ arguments: [String], tool: ReportTool) -> ExitStatus {
    do {
      switch try parse(arguments) {
      case .run(let command):
        return tool.run(command)
      case .print(let text):
        tool.standardOutput(text.hasSuffix("\n") || text.isEmpty ? text : text + "\n")
        return .success
      }
    } catch {
      tool.standardError("\(error) (see \(error.command) --help)")
      return .usage
    }
  }

  /// The command whose help explains a bad command line: the subcommand named first, or the
  /// tool.
  static func helpCommand(_ arguments: [String]) -> String {
    let names = ConformanceReport.configuration.subcommands.map { $0._commandName }
    guard let first = arguments.first, names.contains(first) else { return "conformance-report" }
    return "conformance-report " + first
  }

  /// Options that may be given more than once; ArgumentParser keeps the last of any other.
  static let repeatable: Set<String> = ["--also", "--tags"]

  /// The first option given twice, such as `--log` in `render --log a --log b --out r`.
  /// ArgumentParser would keep `b`; the command line more likely holds a mistake than a
  /// correction, so it stays bad usage, as it was before ArgumentParser. Stops at `--`, and
  /// skips `--filter`'s value, which may look like an option.
  static func repeatedOption(_ arguments: [String]) -> String? {
    var seen: Set<String> = []
    var remaining = arguments[...]
    while let argument = remaining.popFirst(), argument != "--" {
      guard argument.hasPrefix("--") else { continue }
      let name = String(argument.prefix { $0 != "=" })
      if name == "--filter" && name == argument { _ = remaining.popFirst() }
      if !repeatable.contains(name) && !seen.insert(name).inserted { return name }
    }
    return nil
  }
}
