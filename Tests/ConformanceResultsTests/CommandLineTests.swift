import ConformanceResults
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

  @Test func `a log with no cases: the environment prevented the run`() {
    #expect(RunVerdict(ResultLog(cases: [])).status == .environmentPrevented)
  }
}

@Suite struct CommandParsing {
  @Test func `render takes the log, the directory and an optional selection`() throws {
    #expect(
      try ReportCommand.parse(["render", "--out", "r", "--log", "l.jsonl"])
        == .render(log: "l.jsonl", outputDirectory: "r", selection: nil))
    #expect(
      try ReportCommand.parse(["render", "--log", "l", "--out", "r", "--selection", "filter: X"])
        == .render(log: "l", outputDirectory: "r", selection: "filter: X"))
  }

  @Test func `summary, compare and help parse`() throws {
    #expect(try ReportCommand.parse(["summary", "--log", "l"]) == .summary(log: "l"))
    #expect(try ReportCommand.parse(["compare", "a", "b"]) == .compare(before: "a", after: "b"))
    #expect(try ReportCommand.parse(["--help"]) == .help)
    #expect(try ReportCommand.parse(["render", "--help"]) == .help)
  }

  @Test(arguments: [
    ([], "missing command"),
    (["frobnicate"], "unknown command 'frobnicate'"),
    (["render", "--log", "l"], "missing --out"),
    (["render", "--log"], "--log needs a value"),
    (["render", "--log", "a", "--log", "b", "--out", "r"], "--log given twice"),
    (["summary", "--log", "l", "--out", "r"], "unexpected argument '--out'"),
    (["compare", "a"], "compare takes exactly two log files, BEFORE and AFTER"),
  ])
  func `a wrong command line names the problem`(arguments: [String], problem: String) {
    #expect(throws: UsageError(problem)) { try ReportCommand.parse(arguments) }
  }
}
