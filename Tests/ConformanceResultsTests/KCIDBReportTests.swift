import ConformanceResults
import Foundation
import TestCommands
import Testing

/// KCIDB's own validator, `kcidb_io.schema.LATEST.validate_exactly` from the `kcidb-io` package
/// (PyPI), run by a Python that has it: `$KCIDB_PYTHON`, else the virtual environment `.ci/run`
/// installs it into (`.cache/kcidb-venv`), else `python3` on the PATH. nil when none has it.
private enum KCIDBValidator {
  /// The Python that has the validator, and why each one looked at does not.
  static let lookup: (python: String?, rejected: [String]) = {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent().deletingLastPathComponent()
    let candidates =
      [ProcessInfo.processInfo.environment["KCIDB_PYTHON"]].compactMap { $0 } + [
        root.appendingPathComponent(".cache/kcidb-venv/bin/python3").path,
        "/usr/bin/python3", "/usr/local/bin/python3",
      ]
    var rejected: [String] = []
    for candidate in candidates {
      guard FileManager.default.isExecutableFile(atPath: candidate) else {
        rejected.append("\(candidate): no such executable")
        continue
      }
      do {
        let result = try run(candidate, ["-c", "import kcidb_io"])
        if result.status == 0 { return (candidate, rejected) }
        rejected.append("\(candidate): `import kcidb_io` exited \(result.status)")
      } catch {
        rejected.append("\(candidate): \(error)")
      }
    }
    return (nil, rejected)
  }()

  static var python: String? { lookup.python }

  /// Cancels the test (a skip, with why each Python was passed over) when none has kcidb-io.
  static func requireInstalled() throws {
    if python == nil { try Test.cancel(Comment(rawValue: missing)) }
  }

  static var missing: String {
    "kcidb-io is not installed: .ci/run installs it (python3 -m venv .cache/kcidb-venv && "
      + ".cache/kcidb-venv/bin/pip install kcidb-io), or set KCIDB_PYTHON; tried "
      + lookup.rejected.joined(separator: "; ")
  }

  /// Validates one document against the schema version it declares; nil when valid, else the
  /// validator's message.
  static func problem(with document: String) throws -> String? {
    let python = try #require(python, Comment(rawValue: missing))
    let file =
      NSTemporaryDirectory() + "pidns-kcidb-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
    try Data(document.utf8).write(to: URL(fileURLWithPath: file))
    defer {
      do {
        try FileManager.default.removeItem(atPath: file)
      } catch {
        Issue.record("the validated document \(file) was left behind: \(error)")
      }
    }
    let script = """
      import json, sys, kcidb_io
      data = json.load(open(sys.argv[1]))
      try:
          kcidb_io.schema.LATEST.validate_exactly(data)
      except Exception as error:
          print(str(error).splitlines()[0]); sys.exit(1)
      """
    let result = try run(python, ["-c", script, file])
    return result.status == 0 ? nil : result.output
  }

  static func run(_ program: String, _ arguments: [String]) throws -> (
    status: Int32, output: String
  ) {
    let outcome = try BoundedCommand.run(program, arguments)
    guard let status = outcome.status else {
      throw ValidatorTimeout(program: program, output: outcome.output)
    }
    return (status, outcome.output)
  }
}

/// The validator ran past BoundedCommand's deadline and was killed.
private struct ValidatorTimeout: Error, CustomStringConvertible {
  var program: String
  var output: String
  var description: String {
    "\(program) ran past its deadline and was killed; it printed: \(output)"
  }
}

private func document(_ text: String) throws -> [String: Any] {
  try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
}

private func tests(_ text: String) throws -> [[String: Any]] {
  try #require(try document(text)["tests"] as? [[String: Any]])
}

/// A passing run, a run with a FAIL (and a KNOWN case), a BROKEN case in an incomplete run, a
/// selection, and ids KCIDB's path pattern refuses.
private let runs: [(name: String, log: ResultLog, selection: String?)] = [
  ("passing", completeLog, nil),
  ("with a FAIL", sampleLog, nil),
  ("with a BROKEN case", partialLog, nil),
  (
    "a selection",
    ResultLog(
      cases: completeLog.cases.filter { $0.area == "set_tid" },
      environments: [completeEnvironment]), "cases: set_tid"
  ),
  (
    "odd ids",
    ResultLog(
      cases: [
        sample("clone3.size.page-size+1", .pass),
        sample("clone3.size.page-size+1.inaccessible", .pass),
      ], environments: [sampleEnvironment]), nil
  ),
]

@Suite struct KCIDBReport {
  // The validator is looked up in the test, not in a trait: a trait's comment is built when
  // the run is planned, so every run of the bundle, of any selection, would start Python.
  @Test(arguments: runs.indices)
  func `kcidb-io's validator accepts the document`(run: Int) throws {
    try KCIDBValidator.requireInstalled()
    let text = try runs[run].log.kcidb(selection: runs[run].selection)
    let problem = try KCIDBValidator.problem(with: text)
    #expect(problem == nil, "\(runs[run].name): \(problem ?? "")")
  }

  @Test func `the validator refuses a status outside the schema, so it does validate`() throws {
    try KCIDBValidator.requireInstalled()
    let text = try sampleLog.kcidb().replacingOccurrences(
      of: "\"status\" : \"PASS\"", with: "\"status\" : \"KNOWN\"")
    #expect(text != (try sampleLog.kcidb()))
    #expect(try KCIDBValidator.problem(with: text) != nil)
  }

  @Test(arguments: runs.indices)
  func `every case of the log is one test, with one checkout and one build`(run: Int) throws {
    let log = runs[run].log
    let text = try log.kcidb(selection: runs[run].selection)
    let tests = try tests(text)
    let ids = tests.compactMap { ($0["misc"] as? [String: Any])?["case_id"] as? String }
    #expect(ids.sorted() == log.cases.map(\.id).sorted(), "\(runs[run].name)")
    #expect(Set(tests.compactMap { $0["path"] as? String }).count == tests.count)
    #expect(Set(tests.compactMap { $0["id"] as? String }).count == tests.count)
    let json = try document(text)
    let checkouts = try #require(json["checkouts"] as? [[String: Any]])
    let builds = try #require(json["builds"] as? [[String: Any]])
    #expect(checkouts.count == 1 && builds.count == 1)
    #expect(builds[0]["checkout_id"] as? String == checkouts[0]["id"] as? String)
    #expect(tests.allSatisfy { $0["build_id"] as? String == builds[0]["id"] as? String })
    #expect(tests.allSatisfy { $0["origin"] as? String == "pidns_conformance" })
  }

  @Test func `statuses map to KCIDB's: BROKEN is ERROR, KNOWN is FAIL with an incident`() throws {
    var statuses: [String: String] = [:]
    for log in [sampleLog, partialLog] {
      for test in try tests(log.kcidb()) {
        let misc = try #require(test["misc"] as? [String: Any])
        statuses[try #require(misc["status"] as? String)] = test["status"] as? String
      }
    }
    #expect(
      statuses == [
        "PASS": "PASS", "FAIL": "FAIL", "SKIP": "SKIP", "BROKEN": "ERROR", "KNOWN": "FAIL",
      ])
    let json = try document(sampleLog.kcidb())
    let issues = try #require(json["issues"] as? [[String: Any]])
    let incidents = try #require(json["incidents"] as? [[String: Any]])
    #expect(issues.count == 1 && incidents.count == 1)
    #expect(issues.first?["report_url"] as? String == "https://lore.kernel.org/r/1")
    #expect(incidents.first?["issue_id"] as? String == issues.first?["id"] as? String)
    let known = try tests(sampleLog.kcidb()).first {
      ($0["misc"] as? [String: Any])?["case_id"] as? String == "set_tid.level"
    }
    #expect(incidents.first?["test_id"] as? String == known?["id"] as? String)
    #expect(try document(completeLog.kcidb())["issues"] == nil)
  }

  @Test func `a test carries its path, the kernel release, the excerpt and the why`() throws {
    let failing = ResultLog(
      cases: [
        CaseResult(
          id: "clone3.size.65", area: "clone3.size", title: "clone3 with size 65 fails",
          status: .fail, expected: "EINVAL", observed: "E2BIG",
          why: "copy_struct_from_user() checks the tail", kernel: "6.1.0", durationSeconds: 0.5)
      ], environments: [sampleEnvironment])
    let test = try #require(try tests(failing.kcidb()).first)
    #expect(test["path"] as? String == "pidns-conformance.clone3.size.65")
    #expect(test["status"] as? String == "FAIL")
    #expect(
      test["log_excerpt"] as? String
        == "expected EINVAL, observed E2BIG\nwhy: copy_struct_from_user() checks the tail")
    let misc = try #require(test["misc"] as? [String: Any])
    #expect(misc["why"] as? String == "copy_struct_from_user() checks the tail")
    let environment = try #require(test["environment"] as? [String: Any])
    #expect((environment["misc"] as? [String: Any])?["kernel_release"] as? String == "6.1.0")
    let broken = try tests(partialLog.kcidb()).first { $0["status"] as? String == "ERROR" }
    #expect(
      (broken?["log_excerpt"] as? String)?.hasPrefix(
        "clone3 of the blocker process failed with EAGAIN: RLIMIT_NPROC is 30") == true)
  }

  @Test func `a path node KCIDB refuses is spelled in hex, and the id is kept in misc`() throws {
    let paths = try tests(runs[4].log.kcidb()).compactMap { $0["path"] as? String }
    #expect(
      paths.sorted() == [
        "pidns-conformance.clone3.size.page-size_2B_1",
        "pidns-conformance.clone3.size.page-size_2B_1.inaccessible",
      ])
  }
}
