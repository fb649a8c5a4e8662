import ArgumentParser
import ConformanceResults
import ReportCommandLine
import Testing

@Suite struct ExitStatusRules {
  @Test func `a log with a failure fails`() {
    #expect(RunVerdict(sampleLog).status == .failure)
    #expect(RunVerdict(sampleLog).explanation == nil)
  }

  @Test func `a log without failures succeeds even when some cases skip`() {
    let log = ResultLog(cases: [sample("a", .pass), sample("b", .skip, skipKind: .environment)])
    #expect(RunVerdict(log).status == .success)
  }

  @Test func `a log where only features were missing succeeds`() {
    let log = ResultLog(cases: [sample("a", .skip, skipKind: .feature)])
    #expect(RunVerdict(log).status == .success)
  }

  @Test func `nothing ran and the environment skipped a case: the environment prevented the run`() {
    let log = ResultLog(
      cases: [sample("a", .skip, skipKind: .environment), sample("b", .skip, skipKind: .feature)],
      environments: [sampleEnvironment])
    let verdict = RunVerdict(log)
    #expect(verdict.status == .environmentPrevented)
    #expect(
      verdict.explanation
        == "no case ran: 1 of 2 skipped for the environment "
        + "(user namespaces disabled (user.max_user_namespaces = 0))")
  }

  @Test func `a log with only an environment record: the environment prevented the run`() {
    let verdict = RunVerdict(ResultLog(cases: [], environments: [sampleEnvironment]))
    #expect(verdict.status == .environmentPrevented)
    #expect(verdict.explanation == "the log has no cases: the test process wrote no results")
  }

  @Test func `an empty log is no run at all: a data error`() {
    let verdict = RunVerdict(ResultLog(cases: []))
    #expect(verdict.status == .malformedLog)
    #expect(verdict.status.rawValue == 65)
    #expect(verdict.explanation == "the log is empty: no case and no environment record")
  }

  @Test func `a complete run without failures succeeds`() {
    #expect(RunVerdict(completeLog).status == .success)
    #expect(RunVerdict(completeLog).explanation == nil)
  }

  @Test func `a BROKEN case without a failure: the setup, not the kernel, broke`() {
    let log = ResultLog(cases: [
      sample("a", .pass), sample("b", .broken, setupFailure: blockerFailure),
    ])
    let verdict = RunVerdict(log)
    #expect(verdict.status == .environmentPrevented)
    #expect(verdict.status.rawValue == 2)
    #expect(
      verdict.explanation
        == "1 case BROKEN: the setup, not the kernel, failed (first: b: clone3 of the blocker "
        + "process failed with EAGAIN: RLIMIT_NPROC is 30 for uid 1000)")
  }

  @Test func `missing results outrank BROKEN cases: the run did not complete`() throws {
    let verdict = RunVerdict(partialLog)
    #expect(verdict.status == .incomplete)
    #expect(verdict.status.rawValue == 3)
    let explanation = try #require(verdict.explanation).split(separator: "\n").map(String.init)
    #expect(
      explanation.first
        == "the run did not complete: 6 of 9 expected cases have no result; 1 fixture failed to "
        + "load (ns_last_pid: 4 of 4 expected cases have no result; set_tid: 2 of 3 expected "
        + "cases have no result; fixture failed to load: pid-max.json: .cases[2].call: unknown "
        + "call 'frob')")
    #expect(explanation.count == 2)
    #expect(explanation.last?.hasPrefix("1 case BROKEN") == true)
  }

  @Test func `a failure outranks an incomplete run, which the explanation still names`() {
    let log = ResultLog(
      cases: partialLog.cases + [sample("set_tid.one", .fail, area: "set_tid")],
      environments: [partialEnvironment])
    let verdict = RunVerdict(log)
    #expect(verdict.status == .failure)
    #expect(verdict.explanation?.hasPrefix("the run did not complete: 5 of 9") == true)
  }

  @Test func `a log with fewer results than expected does not pass`() {
    // The first 5 results of a full run, as a killed run leaves them.
    let truncated = ResultLog(
      cases: Array(completeLog.cases.prefix(5)), environments: [completeEnvironment])
    #expect(RunVerdict(truncated).status == .incomplete)
  }

  @Test func `no case at all although the fixtures define some: the run did not complete`() {
    let verdict = RunVerdict(ResultLog(cases: [], environments: [completeEnvironment]))
    #expect(verdict.status == .incomplete)
    var selected = completeEnvironment
    selected.selection = "filter: SetTid"
    #expect(RunVerdict(ResultLog(cases: [], environments: [selected])).status == .incomplete)
  }

  @Test func `a fixture that failed to load makes the run incomplete`() {
    var environment = completeEnvironment
    environment.fixtureErrors = ["pid-max.json: not valid JSON"]
    let log = ResultLog(cases: completeLog.cases, environments: [environment])
    #expect(RunVerdict(log).status == .incomplete)
    #expect(
      RunVerdict(log).explanation
        == "the run did not complete: 1 fixture failed to load (fixture failed to load: "
        + "pid-max.json: not valid JSON)")
  }

  @Test func `a selection leaves out unselected areas but not a partial one`() {
    let setTidOnly = completeLog.cases.filter { $0.area == "set_tid" }
    var selected = completeEnvironment
    selected.selection = "filter: SetTid"
    #expect(RunVerdict(ResultLog(cases: setTidOnly, environments: [selected])).status == .success)
    let unselected = ResultLog(cases: setTidOnly, environments: [completeEnvironment])
    #expect(RunVerdict(unselected).status == .incomplete)
    #expect(RunVerdict(unselected, selection: "filter: SetTid").status == .success)
    let partial = ResultLog(cases: Array(setTidOnly.prefix(2)), environments: [selected])
    #expect(RunVerdict(partial).status == .incomplete)
  }

  @Test func `the usage lists every exit status`() {
    // As --help prints it, with its lines joined again.
    let help = ConformanceReport.helpMessage(columns: 80).split(whereSeparator: \.isWhitespace)
      .joined(separator: " ")
    for status in [
      "0 every case passed", "1 a FAIL", "3 the run did not complete", "2 a case is BROKEN",
      "65 malformed or empty log",
    ] {
      #expect(help.contains(status), "\(status)")
    }
  }
}

@Suite struct CommandParsing {
  private func parse(_ arguments: [String]) throws(UsageError) -> ReportCommand? {
    guard case .run(let command) = try ReportCommandLine.parse(arguments) else { return nil }
    return command
  }

  @Test func `render takes the log, the directory and an optional selection`() throws {
    #expect(
      try parse(["render", "--out", "r", "--log", "l.jsonl"])
        == .render(log: "l.jsonl", outputDirectory: "r", selection: nil))
    #expect(
      try parse(["render", "--log", "l", "--out", "r", "--selection", "filter: X"])
        == .render(log: "l", outputDirectory: "r", selection: "filter: X"))
  }

  @Test func `summary, compare and help parse`() throws {
    #expect(try parse(["summary", "--log", "l"]) == .summary(log: "l"))
    #expect(try parse(["compare", "a", "b"]) == .compare(before: "a", after: "b"))
    for arguments in [["--help"], ["-h"], ["help"]] {
      guard case .print(let help) = try ReportCommandLine.parse(arguments) else {
        Issue.record("\(arguments) is not a help request")
        continue
      }
      #expect(help.contains("USAGE: conformance-report <subcommand>"))
    }
    // A subcommand's own help, even after a wrong option.
    for arguments in [["render", "--help"], ["render", "--bogus", "--help"], ["help", "render"]] {
      guard case .print(let help) = try ReportCommandLine.parse(arguments) else {
        Issue.record("\(arguments) is not a help request")
        continue
      }
      #expect(help.contains("USAGE: conformance-report render --log <results.jsonl> --out <dir>"))
    }
  }

  @Test(arguments: [
    ([], "missing command", ""),
    (["frobnicate"], "Unexpected argument 'frobnicate'", ""),
    (["render", "--log", "l"], "Missing expected argument '--out <dir>'", "render"),
    (["render", "--log"], "Missing value for '--log <results.jsonl>'", "render"),
    (["render", "--log", "a", "--log", "b", "--out", "r"], "--log given twice", "render"),
    (["render", "--log=a", "--log", "b", "--out", "r"], "--log given twice", "render"),
    (
      ["summary", "--log", "l", "--out", "r"], "Unknown option '--out'. Did you mean '--log'?",
      "summary"
    ),
    (["compare", "a"], "Missing expected argument '<after.jsonl>'", "compare"),
    (["compare", "a", "b", "c"], "Unexpected argument 'c'", "compare"),
    (["list", "--fixtures", "a", "--fixtures", "b"], "--fixtures given twice", "list"),
    (
      ["matrix", "--out", "m", "a.jsonl"],
      "The value 'a.jsonl' is invalid for '<kernel[/setting]=results.jsonl>': "
        + "a run is KERNEL[/SETTING]=LOG", "matrix"
    ),
  ])
  func `a wrong command line names the problem`(
    arguments: [String], problem: String, subcommand: String
  ) {
    let command = "conformance-report" + (subcommand.isEmpty ? "" : " " + subcommand)
    #expect(throws: UsageError(problem, command: command)) {
      try ReportCommandLine.parse(arguments)
    }
  }

  @Test(arguments: [
    ["frobnicate"], ["render", "--log"], ["summary", "--log", "l", "--out", "r"], ["compare", "a"],
    ["status", "--also", "64"], ["cases", "--status", "LOST", "l"], ["matrix", "--out", "m"],
  ])
  func `ArgumentParser's own exit code for a rejected command line is 64 too`(
    arguments: [String]
  ) {
    do {
      _ = try ConformanceReport.parseAsRoot(arguments)
      Issue.record("\(arguments) parsed")
    } catch {
      #expect(ConformanceReport.exitCode(for: error) == .validationFailure)
      #expect(ConformanceReport.exitCode(for: error).rawValue == ExitStatus.usage.rawValue)
    }
  }

  @Test func `a --filter value that looks like an option is the selector's to judge`() throws {
    #expect(
      try parse(["list", "--filter", "-x"])
        == .list(fixtures: "Fixtures", filter: "-x", tagsOnly: false))
    #expect(
      try parse(["list", "--tags", "--filter", "--tags", "--tags"])
        == .list(fixtures: "Fixtures", filter: "--tags", tagsOnly: true))
  }

  @Test func `status takes repeated --also run statuses, and cases comma-separated statuses`()
    throws
  {
    #expect(
      try parse(["status", "--also", "125", "a", "--also", "3", "b"])
        == .status(logs: ["a", "b"], also: [.unrunnable, .incomplete]))
    #expect(
      try parse(["cases", "--status", "FAIL,BROKEN", "l"])
        == .cases(log: "l", statuses: ["FAIL", "BROKEN"]))
  }
}

/// What ArgumentParser generates from the command line: completion scripts and the man page's
/// source.
@Suite struct GeneratedCommandLineFiles {
  @Test(arguments: ["bash", "zsh", "fish"])
  func `a completion script names every subcommand`(shell: String) throws {
    let request = try ReportCommandLine.parse(["--generate-completion-script", shell])
    guard case .print(let script) = request else {
      Issue.record("no completion script for \(shell)")
      return
    }
    for subcommand in ["render", "summary", "compare", "matrix", "list", "status", "cases"] {
      #expect(script.contains(subcommand), "\(subcommand)")
    }
  }

  @Test func `the tool describes itself for the man page plugin`() throws {
    // generate-manual runs the tool with this option and reads the JSON it prints.
    guard case .print(let json) = try ReportCommandLine.parse(["--experimental-dump-help"]) else {
      Issue.record("no tool description")
      return
    }
    #expect(json.contains("\"commandName\" : \"conformance-report\""))
    #expect(json.contains("\"commandName\" : \"cases\""))
  }
}
