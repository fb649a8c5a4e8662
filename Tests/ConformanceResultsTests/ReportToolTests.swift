import ConformanceResults
import Foundation
import ReportCommandLine
import Testing

/// A scratch directory of the test's own, removed when the test ends.
private final class ScratchDirectory {
  let path: String

  init() throws {
    path = NSTemporaryDirectory() + "pidns-report-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }

  deinit {
    do {
      try FileManager.default.removeItem(atPath: path)
    } catch {
      Issue.record("cannot remove \(path): \(error)")
    }
  }

  /// Writes a result log of these records and returns its path.
  func log(_ name: String, cases: [CaseResult], environments: [EnvironmentRecord] = []) throws
    -> String
  {
    let encoder = JSONEncoder()
    var text = ""
    for environment in environments {
      text += String(decoding: try encoder.encode(environment), as: UTF8.self) + "\n"
    }
    for result in cases {
      text += String(decoding: try encoder.encode(result), as: UTF8.self) + "\n"
    }
    let file = path + "/" + name
    try Data(text.utf8).write(to: URL(fileURLWithPath: file))
    return file
  }

  /// Writes a fixture table whose rows have these ids, with calls the tool must not read.
  func table(_ name: String, area: String, tags: [String], ids: [String]) throws {
    let rows = ids.map { id in
      #"{"id": "\#(id)", "title": "t", "call": {"anything": [1]}, "expect": [{"result": "EINVAL"}]}"#
    }
    let tagList = tags.map { "\"\($0)\"" }.joined(separator: ", ")
    let text =
      #"{"area": "\#(area)", "summary": "s", "tags": [\#(tagList)], "cases": ["#
      + rows.joined(separator: ", ") + "]}"
    try Data(text.utf8).write(to: URL(fileURLWithPath: path + "/" + name))
  }
}

/// `conformance-report` run in the test process, with what it printed.
private struct ToolRun {
  var status: ConformanceResults.ExitStatus
  var output: String
  var errors: String

  init(_ arguments: [String]) {
    let output = LockedText()
    let errors = LockedText()
    let tool = ReportTool(
      standardOutput: { output.append($0) }, standardError: { errors.append($0 + "\n") })
    status = ReportCommandLine.main(arguments, tool: tool)
    self.output = output.text
    self.errors = errors.text
  }
}

private final class LockedText: @unchecked Sendable {
  private let lock = NSLock()
  private var chunks: [String] = []
  func append(_ chunk: String) { lock.withLock { chunks.append(chunk) } }
  var text: String { lock.withLock { chunks.joined() } }
}

/// Every exit status of `conformance-report`, each from the command line a caller would type.
@Suite struct ReportToolExitStatus {
  @Test func `a complete run without failures exits 0 and the reports are written`() throws {
    let scratch = try ScratchDirectory()
    let log = try scratch.log(
      "pass.jsonl", cases: completeLog.cases, environments: [completeEnvironment])
    let run = ToolRun(["render", "--log", log, "--out", scratch.path + "/new/reports"])
    #expect(run.status == .success)
    for report in [
      "results.ktap", "results.kcidb.json", "results.junit.xml", "results.json", "summary.md",
    ] {
      #expect(FileManager.default.fileExists(atPath: scratch.path + "/new/reports/" + report))
    }
    #expect(run.errors.isEmpty)
  }

  @Test func `a FAIL exits 1, and compare exits 1 on the regression`() throws {
    let scratch = try ScratchDirectory()
    let before = try scratch.log("before.jsonl", cases: [sample("clone3.size.65", .pass)])
    let after = try scratch.log("after.jsonl", cases: [sample("clone3.size.65", .fail)])
    #expect(ToolRun(["summary", "--log", after]).status == .failure)
    #expect(ToolRun(["compare", before, after]).status == .failure)
    #expect(ToolRun(["compare", before, before]).status == .success)
  }

  @Test func `an environment that let nothing run exits 2`() throws {
    let scratch = try ScratchDirectory()
    let log = try scratch.log(
      "nouserns.jsonl", cases: [sample("a", .skip, skipKind: .environment)],
      environments: [sampleEnvironment])
    let run = ToolRun(["summary", "--log", log])
    #expect(run.status == .environmentPrevented)
    #expect(run.errors.contains("user namespaces disabled"))
  }

  @Test func `an incomplete run exits 3`() throws {
    let scratch = try ScratchDirectory()
    let log = try scratch.log(
      "partial.jsonl", cases: Array(completeLog.cases.prefix(5)),
      environments: [completeEnvironment])
    let run = ToolRun(["summary", "--log", log])
    #expect(run.status == .incomplete)
    #expect(run.errors.contains("the run did not complete"))
  }

  @Test(arguments: [["render", "--log"], ["frobnicate"], ["compare", "one.jsonl"], []])
  func `bad usage exits 64`(arguments: [String]) {
    let run = ToolRun(arguments)
    #expect(run.status == .usage)
    // One line, naming the --help of the subcommand given, or of the tool.
    #expect(run.errors.split(separator: "\n").count == 1)
    #expect(run.errors.contains("(see conformance-report ") && run.errors.hasSuffix(" --help)\n"))
  }

  @Test func `--help prints the usage and exits 0`() {
    let run = ToolRun(["--help"])
    #expect(run.status == .success)
    #expect(run.output.contains("USAGE: conformance-report <subcommand>"))
    #expect(run.errors.isEmpty)
  }

  @Test(arguments: ["render", "summary", "compare", "matrix", "list", "status", "cases"])
  func `each subcommand's --help prints its usage and exits 0`(subcommand: String) {
    let run = ToolRun([subcommand, "--help"])
    #expect(run.status == .success)
    #expect(run.output.contains("USAGE: conformance-report \(subcommand) "))
    #expect(run.errors.isEmpty)
  }
}

/// Input and output problems are spelled as the path and the errno, never as Foundation's error
/// text.
@Suite struct ReportToolFileErrors {
  @Test func `a directory given as the log is unreadable input, named with EISDIR`() throws {
    let scratch = try ScratchDirectory()
    let run = ToolRun(["summary", "--log", scratch.path])
    #expect(run.status == .usage)
    #expect(run.errors == "cannot read the log \(scratch.path): EISDIR (21): Is a directory\n")
  }

  @Test func `a missing log is named with ENOENT`() throws {
    let scratch = try ScratchDirectory()
    let run = ToolRun(["compare", scratch.path + "/none.jsonl", scratch.path + "/none.jsonl"])
    #expect(run.status == .usage)
    #expect(run.errors.contains("none.jsonl: ENOENT (2): No such file or directory"))
  }

  @Test func `reports that cannot be written exit 73, naming the path and the errno`() throws {
    let scratch = try ScratchDirectory()
    let log = try scratch.log("pass.jsonl", cases: completeLog.cases)
    let run = ToolRun(["render", "--log", log, "--out", log + "/reports"])
    #expect(run.status == .cannotWrite)
    #expect(run.errors == "cannot write \(log): ENOTDIR (20): Not a directory\n")
    #expect(!run.errors.contains("NSCocoaErrorDomain") && !run.errors.contains("NSError"))
  }

  @Test func `an empty log is a data error, for compare's BEFORE too`() throws {
    let scratch = try ScratchDirectory()
    let empty = try scratch.log("empty.jsonl", cases: [])
    let full = try scratch.log("full.jsonl", cases: completeLog.cases)
    #expect(ToolRun(["summary", "--log", empty]).status == .malformedLog)
    #expect(ToolRun(["render", "--log", empty, "--out", scratch.path]).status == .malformedLog)
    let compare = ToolRun(["compare", empty, full])
    #expect(compare.status == .malformedLog)
    #expect(compare.errors.contains("empty.jsonl: the log is empty"))
  }

  @Test func `a log of two kernels is refused, naming both`() throws {
    let scratch = try ScratchDirectory()
    let log = try scratch.log(
      "mixed.jsonl",
      cases: [sample("a", .pass, kernel: "6.1.0"), sample("b", .pass, kernel: "6.12.0")])
    let run = ToolRun(["render", "--log", log, "--out", scratch.path + "/reports"])
    #expect(run.status == .malformedLog)
    #expect(
      run.errors.contains(
        "the log holds the runs of 2 kernels, 6.1.0 (1 record), 6.12.0 (1 record)"))
    #expect(!FileManager.default.fileExists(atPath: scratch.path + "/reports"))
  }
}

/// `conformance-report list`: the cases and tags scripts ask for, and the selectors they check.
@Suite struct ReportToolList {
  private func fixtures() throws -> ScratchDirectory {
    let scratch = try ScratchDirectory()
    try scratch.table("sizes.json", area: "clone3.size", tags: ["clone3"], ids: ["clone3.size.6"])
    try scratch.table(
      "levels.json", area: "set_tid.levels", tags: ["clone3", "setTid"],
      ids: ["set_tid.levels.all"])
    try Data(#"{"features": []}"#.utf8).write(
      to: URL(fileURLWithPath: scratch.path + "/features.json"))
    return scratch
  }

  @Test func `every case is listed with its table's tags, one per line`() throws {
    let scratch = try fixtures()
    let run = ToolRun(["list", "--fixtures", scratch.path])
    #expect(run.status == .success)
    #expect(run.output == "set_tid.levels.all\tclone3,setTid\nclone3.size.6\tclone3\n")
    #expect(ToolRun(["list", "--fixtures", scratch.path, "--tags"]).output == "clone3\nsetTid\n")
  }

  @Test func `a selection lists what it selects`() throws {
    let scratch = try fixtures()
    let tagged = ToolRun(["list", "--fixtures", scratch.path, "--filter", "tag:setTid"])
    #expect(tagged.output == "set_tid.levels.all\tclone3,setTid\n")
    let below = ToolRun([
      "list", "--fixtures", scratch.path, "--filter", "set_tid.levels.all.depth-02",
    ])
    #expect(below.status == .usage)
  }

  @Test func `an id with a plus, as clone3.size.page-size+1, selects its case`() throws {
    let scratch = try fixtures()
    try scratch.table(
      "pages.json", area: "clone3.page", tags: ["clone3"], ids: ["clone3.page.page-size+1"])
    let run = ToolRun(["list", "--fixtures", scratch.path, "--filter", "clone3.page.page-size+1"])
    #expect(run.status == .success)
    #expect(run.output == "clone3.page.page-size+1\tclone3\n")
  }

  @Test(arguments: [
    (
      "clone3.size.6,clone3.size.60",
      "--filter 'clone3.size.60' selects no case: no case id is or starts with 'clone3.size.60.'"
    ),
    (
      "clone3.size.6 ([",
      "--filter '([' is not a case id (letters, digits, '_', '-', '+' and '.') nor tag:NAME"
    ),
    ("tag:pidfd", "--filter 'tag:pidfd': no suite has that tag (tags: clone3 setTid)"),
    (" , ", "--filter needs a value"),
  ])
  func `a selector that selects nothing is bad usage, named as the scripts name it`(
    filter: String, message: String
  ) throws {
    let scratch = try fixtures()
    let run = ToolRun(["list", "--fixtures", scratch.path, "--filter", filter])
    #expect(run.status == .usage)
    #expect(run.errors == message + "\n")
  }

  @Test func `a table that does not load is named and left out`() throws {
    let scratch = try fixtures()
    try Data("{".utf8).write(to: URL(fileURLWithPath: scratch.path + "/lost.json"))
    let run = ToolRun(["list", "--fixtures", scratch.path])
    #expect(run.status == .success)
    #expect(run.errors.hasPrefix("warning: lost.json: not valid JSON"))
    #expect(run.output.split(separator: "\n").count == 2)
  }

  @Test func `a fixtures directory that cannot be read is unreadable input`() throws {
    let scratch = try ScratchDirectory()
    #expect(ToolRun(["list", "--fixtures", scratch.path + "/none"]).status == .usage)
  }
}

/// `conformance-report status`: a log's exit status, and the most severe of several.
@Suite struct ReportToolStatus {
  @Test func `each log is one line with its status, kernel and counts`() throws {
    let scratch = try ScratchDirectory()
    let log = try scratch.log(
      "pass.jsonl", cases: completeLog.cases, environments: [completeEnvironment])
    let run = ToolRun(["status", log])
    #expect(run.status == .success)
    let fields = run.output.split(separator: "\t")
    #expect(fields.count == 4)
    #expect(fields.first.map(String.init) == log)
    #expect(fields.dropFirst().first == "0")
    #expect(run.output.hasSuffix("known=\(completeLog.tally.known) broken=0\n"))
  }

  @Test func `a FAIL outranks an incomplete run, which outranks 125 and 2`() throws {
    let scratch = try ScratchDirectory()
    let fail = try scratch.log("fail.jsonl", cases: [sample("clone3.size.65", .fail)])
    let partial = try scratch.log(
      "partial.jsonl", cases: Array(completeLog.cases.prefix(5)),
      environments: [completeEnvironment])
    let nouserns = try scratch.log(
      "nouserns.jsonl", cases: [sample("a", .skip, skipKind: .environment)],
      environments: [sampleEnvironment])
    #expect(ToolRun(["status", nouserns, partial, fail]).status == .failure)
    #expect(ToolRun(["status", nouserns, partial]).status == .incomplete)
    #expect(ToolRun(["status", "--also", "125", nouserns]).status == .unrunnable)
    #expect(ToolRun(["status", "--also", "3", nouserns]).status == .incomplete)
    #expect(ToolRun(["status", nouserns]).status == .environmentPrevented)
    #expect(ToolRun(["status", "--also", "0"]).status == .success)
  }

  @Test(arguments: [
    ["status"], ["status", "--also", "64"], ["status", "--also"], ["status", "--x"],
  ])
  func `a status command line without logs or with a foreign status is bad usage`(
    arguments: [String]
  ) {
    #expect(ToolRun(arguments).status == .usage)
  }

  @Test func `an empty or missing log is named, and the other logs are still judged`() throws {
    let scratch = try ScratchDirectory()
    let empty = try scratch.log("empty.jsonl", cases: [])
    let fail = try scratch.log("fail.jsonl", cases: [sample("clone3.size.65", .fail)])
    let run = ToolRun(["status", empty, fail])
    #expect(run.status == .malformedLog)
    #expect(run.output.hasPrefix(fail + "\t1\t"))
    #expect(run.errors.contains("empty.jsonl: the log is empty"))
    #expect(ToolRun(["status", fail, scratch.path + "/none.jsonl"]).status == .usage)
  }
}

@Suite struct ReportToolCases {
  @Test func `cases prints each case with its status and reason, then the measured level`() throws {
    let scratch = try ScratchDirectory()
    let log = try scratch.log(
      "run.jsonl",
      cases: [
        sample("clone3.size.65", .fail, reason: "expected EINVAL"), sample("clone3.size.64", .pass),
      ],
      environments: [sampleEnvironment])
    let all = ToolRun(["cases", log])
    #expect(all.status == .success)
    #expect(
      all.output
        == "clone3.size.64\tPASS\t\nclone3.size.65\tFAIL\texpected EINVAL\nlevel\t0\n")
    let failing = ToolRun(["cases", "--status", "FAIL,BROKEN", log])
    #expect(failing.output == "clone3.size.65\tFAIL\texpected EINVAL\nlevel\t0\n")
    #expect(ToolRun(["cases", "--status", "LOST", log]).status == .usage)
  }

  @Test func `a log cut short while a record was written is read up to its last whole one`()
    throws
  {
    let scratch = try ScratchDirectory()
    let log = try scratch.log("killed.jsonl", cases: [sample("clone3.size.64", .pass)])
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
    try handle.seekToEnd()
    try handle.write(contentsOf: Data(#"{"record":"case","id":"clone3.si"#.utf8))
    try handle.close()
    #expect(ToolRun(["cases", log]).output == "clone3.size.64\tPASS\t\nlevel\t?\n")
    #expect(ToolRun(["status", log]).status == .malformedLog)
  }
}
