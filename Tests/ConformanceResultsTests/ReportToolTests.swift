import ConformanceResults
import Foundation
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
}

/// `conformance-report` run in the test process, with what it printed.
private struct ToolRun {
  var status: ConformanceResults.ExitStatus
  var output: String
  var errors: String

  init(_ arguments: [String]) {
    let output = LockedText()
    let errors = LockedText()
    status = ReportTool(
      standardOutput: { output.append($0) }, standardError: { errors.append($0 + "\n") }
    ).main(arguments)
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
    for report in ["results.ktap", "results.junit.xml", "results.json", "summary.md"] {
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
    #expect(run.errors.contains("see conformance-report --help"))
  }

  @Test func `--help prints the usage and exits 0`() {
    let run = ToolRun(["--help"])
    #expect(run.status == .success)
    #expect(run.output.hasPrefix("usage: conformance-report render"))
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
