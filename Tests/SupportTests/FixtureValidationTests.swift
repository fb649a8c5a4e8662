import Foundation
import Testing

@testable import ConformanceSupport

/// The expectation tables in `Fixtures/` are data that every suite trusts: they are checked
/// here before any case reads them.
@Suite struct FixtureValidationTests {
  @Test func `every fixture file follows the schema, with unique ids`() throws {
    var seen: Set<String> = []
    let names = try Fixtures.tableNames()
    #expect(!names.isEmpty)
    for name in names {
      let table = try Fixtures.load(name, selection: nil)
      let problems = FixtureValidation.problems(
        in: table, file: name, features: Set(Features.definitions.keys), seenIds: &seen)
      #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }
  }

  @Test
  func `Fixtures holds only tables and features, and every table decodes whole, calls included`()
    throws
  {
    let files = try FileManager.default.contentsOfDirectory(atPath: Fixtures.directory.path)
    let tables = try Fixtures.tableNames()
    #expect(Set(files) == Set(tables).union(FixtureTables.otherFiles), "not a table: \(files)")
    for table in tables {
      #expect(throws: Never.self, "\(table)") { _ = try Fixtures.load(table) }
    }
    #expect(FixtureCatalog.expectedCases.errors.isEmpty)
  }

  @Test(arguments: [
    (#"{"size": 64, "flags": ["CLONE_VM"]}"#, "success", "a.x: CLONE_VM needs a stack"),
    (#"{"size": 64}"#, "EWHAT", #"a.x: expect[0]: unknown result "EWHAT""#),
    // Each of these loaded, then trapped the test process when the case built its clone_args.
    (#"{"size": 64, "nonZeroBytesAt": [-1]}"#, "EINVAL", "a.x: clone_args nonZeroBytesAt"),
    (
      #"{"size": 88, "placement": "straddlesGuardPage", "readableBytes": -1}"#, "EFAULT",
      "a.x: clone_args readableBytes"
    ),
    (
      #"{"size": 88, "placement": "straddlesGuardPage", "readableBytes": 8192}"#, "EFAULT",
      "a.x: clone_args readableBytes"
    ),
    (#"{"size": 9223372036854775807}"#, "E2BIG", "a.x: clone_args size"),
    (#"{"size": "PAGE_SIZE+9223372036854775807"}"#, "E2BIG", "not a byte count"),
    // Left out without a word: the byte lies outside what the call passes.
    (#"{"size": 64, "nonZeroBytesAt": [64]}"#, "E2BIG", "a.x: clone_args nonZeroBytesAt"),
  ])
  func `a row the suite cannot judge safely is refused when its table loads`(
    args: String, result: String, complaint: String
  ) throws {
    let row =
      #"{"id": "a.x", "title": "t", "call": {"steps": [{"op": "clone3", "args": {"clone_args": "#
      + args + #"}}]}, "expect": [{"result": ""# + result + #""}]}"#
    #expect {
      _ = try MalformedFixture.load(MalformedFixture.table(row)) {
        try Fixtures.load("broken.json", from: $0, selection: nil)
      }
    } throws: { error in
      "\(error)".hasPrefix("broken.json") && "\(error)".contains(complaint)
    }
  }

  /// `levels` -1 loaded, then trapped the test process (`UInt32(-1)` for the sandbox); 0 loaded
  /// and was BROKEN on every kernel, 33 SKIPped on every kernel.
  @Test(arguments: ["-1", "0", "33"])
  func `sandbox levels outside 1 to 32 are refused when the table loads`(levels: String) throws {
    let row =
      #"{"id": "a.x", "title": "t", "call": {"levels": \#(levels), "steps": [{"op": "setsid"}]}, "#
      + #""expect": [{"result": "success"}]}"#
    #expect {
      _ = try MalformedFixture.load(MalformedFixture.table(row)) {
        try Fixtures.load("broken.json", from: $0, selection: nil)
      }
    } throws: { error in
      "\(error)".hasPrefix("broken.json") && "\(error)".contains("levels: 1 to 32")
    }
  }

  /// A misspelt `premises` dropped the premise check: the case was judged from whatever
  /// namespace it ended up in.
  @Test(arguments: [
    (#""premisses": {"pidLevels": 2}"#, #"unknown key "premisses""#),
    (#""levels": 0"#, "levels: 1 to 32"),
  ])
  func `a malformed prelude is refused when the table loads`(key: String, complaint: String)
    throws
  {
    let table =
      #"{"area": "a", "summary": "s", "tags": ["t"], "preludes": {"p": {"about": "a", "#
      + #""steps": [], \#(key)}}, "cases": [{"id": "a.x", "title": "t", "#
      + #""call": {"use": "p", "steps": [{"op": "setsid"}]}, "expect": [{"result": "success"}]}]}"#
    #expect {
      _ = try MalformedFixture.load(table) {
        try Fixtures.load("broken.json", from: $0, selection: nil)
      }
    } throws: { error in
      "\(error)".hasPrefix("broken.json") && "\(error)".contains(complaint)
    }
  }

  @Test func `clone_args addresses are numbers, hex or the suite's scratch words`() throws {
    let json =
      #"{"pidfd": "scratch", "parent_tid": "scratch+8", "stack": "0xffff800000000000", "#
      + #""stack_size": 4096, "flags": ["CLONE_THREAD"]}"#
    let spec = try JSONDecoder().decode(CloneArgsSpec.self, from: Data(json.utf8))
    #expect(spec.pidfd == ArgsAddress.scratch(offset: 0))
    #expect(spec.parentTid == ArgsAddress.scratch(offset: 8))
    #expect(spec.stack == ArgsAddress.value(0xffff_8000_0000_0000))
    #expect(spec.stackSize == ArgsAddress.value(4096))
    #expect(throws: Never.self) { try spec.validSize() }
    for bad in [#""scratch+4""#, #""scratch+32""#, #""0xz""#, #""heap""#] {
      #expect(throws: DecodingError.self, "\(bad)") {
        try JSONDecoder().decode(ArgsAddress.self, from: Data(bad.utf8))
      }
    }
  }

  @Test func `the feature table loads whole, each feature with a probe`() throws {
    #expect(try !Features.table.get().isEmpty)
  }

  /// A failure's fields come only from the steps after a goOn step; any other, such as a
  /// misspelt `"wyh"`, would never be compared.
  @Test(arguments: [#""secondRunning": 1"#, #""wyh": "w""#])
  func `a failure with a field no step after a goOn step reports is refused`(field: String) {
    let row =
      #"{"id": "a.x", "title": "t", "call": {"steps": [{"op": "clone3", "args": {"clone_args": {"size": 1}}}]}, "expect": [{"result": "EINVAL", \#(field)}]}"#
    let name = field.split(separator: "\"")[0]
    #expect {
      _ = try MalformedFixture.load(MalformedFixture.table(row)) {
        try Fixtures.load("broken.json", from: $0, selection: nil)
      }
    } throws: { error in
      "\(error)".contains(#"a.x: expect[0]: EINVAL with field "\#(name)", which no step"#)
    }
  }

  @Test func `a table that breaks the schema is a fixture error of the run, not only of the tests`()
    throws
  {
    let row =
      #"{"id": "a.x", "title": "t", "call": {"steps": [{"op": "setsid"}]}, "expect": ["#
      + #"{"kernels": {"from": "6.1"}, "result": "success"}, {"kernels": {"from": "6.3"}, "result": "EPERM"}]}"#
    let (counts, errors) = try MalformedFixture.load(MalformedFixture.table(row)) {
      FixtureCatalog.expected(in: $0, selection: nil)
    }
    #expect(counts == ["a": 1])
    #expect(
      errors == [#"broken.json case 1 (a.x) expect[1]: kernels 6.3+ overlaps expect[0] 6.1+"#])
  }

  @Test(arguments: MalformedFixture.all)
  func `a malformed fixture is reported with its file and row`(_ fixture: MalformedFixture) {
    var problems: [String]
    do {
      // What does not fit the model is refused as the table loads.
      let table = try MalformedFixture.load(fixture.json) {
        try FixtureFile<Ignored>.load("broken.json", from: $0)
      }
      var seen: Set<String> = []
      problems = FixtureValidation.problems(
        in: table, file: "broken.json", features: ["clone3"], seenIds: &seen)
    } catch {
      problems = ["\(error)"]
    }
    #expect(problems.contains { $0.hasPrefix("broken.json") && $0.contains(fixture.complaint) })
  }
}

struct MalformedFixture: Sendable, CustomTestStringConvertible {
  var name: String
  var json: String
  var complaint: String

  var testDescription: String { name }

  /// `load` of a scratch directory that holds `json` as `broken.json`.
  static func load<Table>(_ json: String, as load: (URL) throws -> Table) throws -> Table {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("pidns-fixture-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer {
      do {
        try FileManager.default.removeItem(at: directory)
      } catch {
        Issue.record("cannot remove \(directory.path): \(error)")
      }
    }
    try Data(json.utf8).write(to: directory.appendingPathComponent("broken.json"))
    return try load(directory)
  }

  static func table(_ cases: String) -> String {
    #"{"area": "a", "summary": "s", "tags": ["t"], "feature": "clone3", "cases": [\#(cases)]}"#
  }

  static let all: [MalformedFixture] = [
    .init(name: "not JSON", json: "{", complaint: "not valid JSON"),
    .init(
      name: "no tags",
      json: #"{"area": "a", "summary": "s", "cases": []}"#, complaint: #"missing "tags""#),
    .init(
      name: "overlapping kernel ranges",
      json: table(
        #"{"id": "a.x", "title": "t", "call": {}, "expect": ["#
          + #"{"kernels": {"from": "5.5", "until": "7.0"}, "result": "EINVAL"},"#
          + #"{"kernels": {"from": "6.9"}, "result": "EPERM"}]}"#),
      complaint: "case 1 (a.x) expect[1]: kernels 6.9+ overlaps expect[0] 5.5..<7.0"),
    .init(
      name: "empty kernel range",
      json: table(
        #"{"id": "a.x", "title": "t", "call": {}, "expect": ["#
          + #"{"kernels": {"from": "7.0", "until": "5.5"}, "result": "EINVAL"}]}"#),
      complaint: "is empty"),
    .init(
      name: "duplicate id",
      json: table(
        #"{"id": "a.x", "title": "t", "call": {}, "expect": [{"result": "success"}]},"#
          + #"{"id": "a.x", "title": "t", "call": {}, "expect": [{"result": "success"}]}"#),
      complaint: "case 2 (a.x): duplicate id"),
    .init(
      name: "id outside the area",
      json: table(#"{"id": "b.x", "title": "t", "call": {}, "expect": [{"result": "success"}]}"#),
      complaint: #"id must start with the area "a.""#),
    .init(
      name: "unknown feature",
      json: table(
        #"{"id": "a.x", "title": "t", "feature": "warp", "call": {}, "#
          + #""expect": [{"result": "success"}]}"#),
      complaint: #"unknown feature "warp""#),
    .init(
      name: "known bug without a report",
      json: table(
        #"{"id": "a.x", "title": "t", "call": {}, "expect": [{"result": "ESRCH"}], "#
          + #""known": [{"kernels": [{"from": "6.12"}], "result": "ENOTTY", "bug": {"title": "b"}}]}"#
      ),
      complaint: #"known[0].bug: missing "report""#),
    .init(
      name: "misspelt row key",
      json: table(
        #"{"id": "a.x", "title": "t", "call": {}, "expect": [{"result": "ESRCH"}], "#
          + #""knwon": [{"kernels": [{"from": "6.12"}], "result": "ENOTTY", "#
          + #""bug": {"title": "b", "report": "r"}}]}"#),
      complaint: #"cases[0]: unknown key "knwon""#),
    .init(
      name: "misspelt table key",
      json: #"{"area": "a", "summary": "s", "tags": ["t"], "featur": "warp", "cases": []}"#,
      complaint: #"unknown key "featur""#),
    .init(
      name: "misspelt kernel range key",
      json: table(
        #"{"id": "a.x", "title": "t", "call": {}, "expect": ["#
          + #"{"kernels": {"form": "6.3"}, "result": "EINVAL"}]}"#),
      complaint: #"cases[0].expect[0].kernels: unknown key "form""#),
    .init(
      name: "misspelt known bug key",
      json: table(
        #"{"id": "a.x", "title": "t", "call": {}, "expect": [{"result": "ESRCH"}], "#
          + #""known": [{"kernels": [{"from": "6.12"}], "result": "ENOTTY", "#
          + #""bug": {"title": "b", "report": "r", "stable": [], "fixed_by": "c"}}]}"#),
      complaint: #"known[0].bug: unknown key "fixed_by""#),
    .init(
      name: "known bug that states the expected result",
      json: table(
        #"{"id": "a.x", "title": "t", "call": {}, "expect": [{"result": "ESRCH"}], "#
          + #""known": [{"kernels": [{"from": "6.12"}], "result": "ESRCH", "#
          + #""bug": {"title": "b", "report": "r", "stable": []}}]}"#),
      complaint: "known[0]: ESRCH on 6.12+ can never match: expect[0] states it on all"),
    .init(
      name: "known bug on kernels the case does not apply to",
      json: table(
        #"{"id": "a.x", "title": "t", "call": {}, "#
          + #""expect": [{"kernels": {"from": "6.1"}, "result": "ESRCH"}], "#
          + #""known": [{"kernels": [{"until": "6.1"}], "result": "ENOTTY", "#
          + #""bug": {"title": "b", "report": "r", "stable": []}}]}"#),
      complaint: "known[0]: kernels <6.1 can never match: no expectation covers them"),
    .init(
      name: "id that no selector can name",
      json: table(#"{"id": "a.x y", "title": "t", "call": {}, "expect": [{"result": "success"}]}"#),
      complaint: "case 1 (a.x y): id must be letters, digits, '_', '-', '+' and '.'"),
    .init(
      name: "missing expectations",
      json: table(#"{"id": "a.x", "title": "t", "call": {}}"#),
      complaint: #"cases[0]: missing "expect""#),
    .init(
      name: "empty expectations",
      json: table(#"{"id": "a.x", "title": "t", "call": {}, "expect": []}"#),
      complaint: "\"expect\" must be a non-empty array"),
  ]
}
