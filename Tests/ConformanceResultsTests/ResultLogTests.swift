import ConformanceResults
import Foundation
import Testing

@Suite struct ResultLogParsing {
  private func jsonLine(_ record: some Encodable) throws -> String {
    String(decoding: try JSONEncoder().encode(record), as: UTF8.self)
  }

  @Test func `reads cases in file order and skips blank lines`() throws {
    let text = try [
      jsonLine(sampleEnvironment), "", jsonLine(sample("b", .pass)), "  ",
      jsonLine(sample("a", .fail)),
    ].joined(separator: "\n")
    let log = try ResultLog.parse(text + "\n")
    #expect(log.cases.map(\.id) == ["b", "a"])
    #expect(log.environment == sampleEnvironment)
    #expect(log.notes.isEmpty)
  }

  @Test func `a malformed line is an error naming its line number`() throws {
    let text = try [jsonLine(sample("a", .pass)), "", #"{"record":"case","id":"x"}"#]
      .joined(separator: "\n")
    #expect(throws: ResultLogError(line: 3, problem: "missing key 'area'")) {
      try ResultLog.parse(text)
    }
  }

  @Test func `text that is not JSON or not a known record is an error`() {
    #expect(throws: ResultLogError(line: 1, problem: "not valid JSON")) {
      try ResultLog.parse("ok 1 clone3")
    }
    #expect(throws: ResultLogError(line: 1, problem: "unknown record kind 'skip'")) {
      try ResultLog.parse(#"{"record":"skip"}"#)
    }
  }

  @Test func `an unknown status is an error naming the field`() throws {
    let line = try jsonLine(sample("a", .pass)).replacingOccurrences(of: "PASS", with: "MAYBE")
    #expect(throws: ResultLogError(line: 2, problem: "invalid value for 'status'")) {
      try ResultLog.parse("\n" + line)
    }
  }

  @Test(arguments: [
    #"{"a": -3}"#, #"{"a": 9223372036854775807, "b": 9223372036854775807}"#,
  ])
  func `an expected case count no table can have is an error naming its line`(counts: String)
    throws
  {
    let environment = try jsonLine(sampleEnvironment).replacingOccurrences(
      of: #""record":"environment""#, with: #""record":"environment","expectedCases":\#(counts)"#)
    #expect(environment.contains("expectedCases"))
    #expect {
      let log = try ResultLog.parse(
        try jsonLine(sample("a.x", .pass, area: "a")) + "\n" + environment)
      // What a report reads first: without the error, an overflow traps here.
      _ = log.completeness()
    } throws: { error in
      (error as? ResultLogError)?.line == 2
    }
  }

  @Test func `a repeated case id keeps the last record and notes it`() {
    let log = ResultLog(cases: [sample("a", .fail), sample("b", .pass), sample("a", .pass)])
    #expect(log.cases.map(\.id) == ["b", "a"])
    #expect(log.cases.last?.status == .pass)
    #expect(log.notes == ["case a appears more than once; the last record is kept"])
  }

  @Test func `environment records from several processes merge`() {
    var second = sampleEnvironment
    second.features = ["clone3.set_tid": false, "pidfd.thread": true]
    second.limitations = ["no cgroup v2", sampleEnvironment.limitations[0]]
    let log = ResultLog(cases: [], environments: [sampleEnvironment, second])
    #expect(
      log.environment?.features
        == ["clone3.set_tid": false, "clone3.into_cgroup": false, "pidfd.thread": true])
    #expect(log.environment?.limitations == sampleEnvironment.limitations + ["no cgroup v2"])
    #expect(log.notes == ["test processes disagree on feature clone3.set_tid; reported as missing"])
  }

  @Test func `processes that disagree on the kernel are noted`() {
    var other = sampleEnvironment
    other.kernel = "6.6.0"
    let log = ResultLog(cases: [], environments: [sampleEnvironment, other])
    #expect(log.environment?.kernel == "6.1.0")
    #expect(log.notes.count == 1)
    #expect(log.notes.first?.contains("disagree on the kernel") == true)
  }

  @Test func `areas keep the order in which they first appear`() {
    #expect(sampleLog.areas.map(\.name) == ["clone3.size", "clone3.cgroup", "set_tid"])
    #expect(sampleLog.areas.map(\.cases.count) == [3, 2, 3])
  }

  @Test func `expected counts merge by the largest per area, fixture errors by union`() {
    var first = completeEnvironment
    first.expectedCases = ["clone3.size": 2, "set_tid": 1]
    first.fixtureErrors = ["a.json: not valid JSON"]
    var second = completeEnvironment
    second.expectedCases = ["set_tid": 3, "ns_last_pid": 4]
    second.fixtureErrors = ["b.json: missing key 'area'", "a.json: not valid JSON"]
    second.selection = "filter: SetTid"
    let log = ResultLog(cases: [], environments: [first, second])
    #expect(log.environment?.expectedCases == ["clone3.size": 2, "set_tid": 3, "ns_last_pid": 4])
    #expect(
      log.environment?.fixtureErrors == ["a.json: not valid JSON", "b.json: missing key 'area'"])
    #expect(log.environment?.selection == "filter: SetTid")
  }

  @Test func `distinct case ids count toward completeness, not repeated records`() {
    let repeated = ResultLog(
      cases: completeLog.cases + [completeLog.cases[0]], environments: [completeEnvironment])
    #expect(repeated.completeness().isComplete)
    let missingOne = ResultLog(
      cases: completeLog.cases.dropLast() + [completeLog.cases[0]],
      environments: [completeEnvironment])
    #expect(
      missingOne.completeness().shortfalls == [
        .init(area: "ns_last_pid", expected: 4, recorded: 3)
      ])
  }

  @Test func `the kernels of a log are counted by record`() {
    let log = ResultLog(
      cases: [sample("a", .pass), sample("b", .pass, kernel: "6.12.0")],
      environments: [sampleEnvironment])
    #expect(
      log.kernels == [
        KernelRecords(release: "6.1.0", records: 2), KernelRecords(release: "6.12.0", records: 1),
      ])
  }

  @Test func `a run that counted only its selected cases is judged in every area`() {
    var selected = completeEnvironment
    selected.selection = "cases: set_tid"
    selected.selectedCases = ["set_tid"]
    selected.expectedCases = ["clone3.size": 0, "set_tid": 3, "ns_last_pid": 0]
    let setTidOnly = completeLog.cases.filter { $0.area == "set_tid" }
    #expect(ResultLog(cases: setTidOnly, environments: [selected]).completeness().isComplete)
    selected.expectedCases?["ns_last_pid"] = 4
    let lost = ResultLog(cases: setTidOnly, environments: [selected]).completeness()
    #expect(lost.shortfalls.map(\.area) == ["ns_last_pid"])
  }
}
