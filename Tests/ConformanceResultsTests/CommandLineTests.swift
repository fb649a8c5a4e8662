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
    for status in [
      "0 every case passed", "1 a FAIL", "3 the run did not complete", "2 a case is BROKEN",
      "65 malformed or empty log",
    ] {
      #expect(ReportCommand.usage.contains(status), "\(status)")
    }
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
