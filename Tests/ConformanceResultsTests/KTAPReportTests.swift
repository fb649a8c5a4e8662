import ConformanceResults
import Testing

/// A KTAP result line with the diagnostics before it and, for a parent, its subtest.
private struct KTAPResult {
  var ok: Bool
  var number: Int
  var description: String
  var directive: String?
  var directiveText: String
  var diagnostics: [String]
  var subtest: KTAPDocument?
}

private struct KTAPDocument {
  var plan: Int
  var results: [KTAPResult]
}

private struct KTAPSyntaxError: Error, CustomStringConvertible {
  var description: String
}

/// A small reader of the KTAP version 1 subset the report writes: version, plan, diagnostics,
/// result lines with directives (kselftest's `# error` among them), and subtests indented two
/// spaces.
private struct KTAPReader {
  var lines: [Substring]
  var index = 0

  init(_ text: String) {
    lines = text.split(separator: "\n")
  }

  mutating func document(indent: String = "") throws -> KTAPDocument {
    try expect(indent + "KTAP version 1")
    let planLine = try next(indent)
    guard planLine.hasPrefix("1.."), let plan = Int(planLine.dropFirst(3)) else {
      throw KTAPSyntaxError(description: "no plan: \(planLine)")
    }
    var results: [KTAPResult] = []
    var diagnostics: [String] = []
    var subtest: KTAPDocument?
    while index < lines.count, lines[index].hasPrefix(indent) {
      let line = lines[index].dropFirst(indent.count)
      if line == "  KTAP version 1" {
        subtest = try document(indent: indent + "  ")
      } else if line.hasPrefix("#") {
        diagnostics.append(String(line.dropFirst(2)))
        index += 1
      } else if line.hasPrefix(" ") {
        throw KTAPSyntaxError(description: "unexpected indentation: \(line)")
      } else {
        results.append(try result(line, diagnostics: diagnostics, subtest: subtest))
        diagnostics = []
        subtest = nil
        index += 1
      }
    }
    return KTAPDocument(plan: plan, results: results)
  }

  private func result(_ line: Substring, diagnostics: [String], subtest: KTAPDocument?) throws
    -> KTAPResult
  {
    let pattern =
      /(?<status>ok|not ok) (?<number>\d+) (?<text>[^#]*?)(?: # (?<directive>SKIP|XFAIL|TODO|error)(?: (?<why>.*))?)?/
    guard let match = line.wholeMatch(of: pattern), let number = Int(match.number) else {
      throw KTAPSyntaxError(description: "not a result line: \(line)")
    }
    return KTAPResult(
      ok: match.status == "ok", number: number, description: String(match.text),
      directive: match.directive.map(String.init), directiveText: String(match.why ?? ""),
      diagnostics: diagnostics, subtest: subtest)
  }

  private mutating func next(_ indent: String) throws -> Substring {
    guard index < lines.count, lines[index].hasPrefix(indent) else {
      throw KTAPSyntaxError(description: "output ends early")
    }
    defer { index += 1 }
    return lines[index].dropFirst(indent.count)
  }

  private mutating func expect(_ line: String) throws {
    guard index < lines.count, lines[index] == line else {
      throw KTAPSyntaxError(description: "expected '\(line)' at line \(index + 1)")
    }
    index += 1
  }
}

@Suite struct KTAPReport {
  private func parsed(_ log: ResultLog) throws -> KTAPDocument {
    var reader = KTAPReader(log.ktap())
    let document = try reader.document()
    #expect(reader.index == reader.lines.count, "trailing output")
    return document
  }

  @Test func `plans and numbers match the areas and cases`() throws {
    let document = try parsed(sampleLog)
    #expect(document.plan == 3)
    #expect(document.results.map(\.number) == [1, 2, 3])
    #expect(document.results.map(\.description) == ["clone3.size", "clone3.cgroup", "set_tid"])
    for (result, area) in zip(document.results, sampleLog.areas) {
      let subtest = try #require(result.subtest)
      #expect(subtest.plan == area.cases.count)
      #expect(subtest.results.map(\.number) == Array(1...area.cases.count))
    }
  }

  @Test func `each status gets its result and directive`() throws {
    let cases = try parsed(sampleLog).results.flatMap { $0.subtest?.results ?? [] }
    #expect(cases.count == sampleLog.cases.count)
    for (line, result) in zip(cases, sampleLog.cases) {
      #expect(line.description == "\(result.id) \(result.title)")
      switch result.status {
      case .pass:
        #expect(line.ok && line.directive == nil)
      case .fail:
        #expect(!line.ok && line.directive == nil)
        #expect(line.diagnostics == ["expected EINVAL, observed E2BIG", "size check moved"])
      case .broken:
        #expect(!line.ok && line.directive == "error")
        #expect(line.directiveText == result.setupFailure?.summary)
      case .skip:
        #expect(line.ok && line.directive == "SKIP" && line.directiveText == result.reason)
      case .known:
        #expect(line.ok && line.directive == "XFAIL")
        #expect(line.directiveText == "\(levelBug.title) (\(levelBug.report))")
      }
    }
  }

  @Test func `an area fails with any failed case and is skipped when all its cases are`()
    throws
  {
    let areas = try parsed(sampleLog).results
    #expect(areas.map(\.ok) == [false, true, true])
    #expect(areas.map(\.directive) == [nil, "SKIP", nil])
  }

  @Test func `a hash in a title does not start a directive`() throws {
    let log = ResultLog(cases: [sample("a", .pass, title: "flags # 0 and\nmore")])
    let line = try #require(try parsed(log).results.first?.subtest?.results.first)
    #expect(line.directive == nil)
    #expect(line.description == "a flags %23 0 and more")
  }

  @Test func `an empty log has an empty plan`() throws {
    #expect(ResultLog(cases: []).ktap() == "KTAP version 1\n1..0\n")
  }

  @Test func `a BROKEN case is not ok with the error directive, as ksft_test_result_error writes`()
    throws
  {
    let areas = try parsed(partialLog).results
    let setTid = try #require(areas.first { $0.description == "set_tid" })
    let line = try #require(setTid.subtest?.results.first)
    #expect(!line.ok && line.directive == "error")
    #expect(
      line.directiveText
        == "clone3 of the blocker process failed with EAGAIN: RLIMIT_NPROC is 30 for uid 1000")
    #expect(line.diagnostics == ["the blocker never started"])
    #expect(!setTid.ok && setTid.directive == "error")
  }

  @Test func `plans count the expected cases, so a consumer sees the missing results`() throws {
    let document = try parsed(partialLog)
    #expect(document.plan == 4)
    #expect(
      document.results.map(\.description) == [
        "clone3.size", "set_tid", "ns_last_pid", "fixture pid-max.json",
      ])
    #expect(document.results.map { $0.subtest?.plan } == [2, 3, 4, nil])
    #expect(document.results.map { $0.subtest?.results.count } == [2, 1, 0, nil])
    #expect(document.results.map(\.ok) == [true, false, false, false])
    #expect(
      document.results.map(\.directiveText) == [
        "", "1 BROKEN; 2 of 3 expected cases have no result",
        "4 of 4 expected cases have no result", "fixture failed to load: its cases did not run",
      ])
    #expect(
      document.results[2].diagnostics == ["ns_last_pid: 4 of 4 expected cases have no result"])
    #expect(
      document.results[3].diagnostics == [
        "fixture failed to load: pid-max.json: .cases[2].call: unknown call 'frob'"
      ])
  }

  @Test func `an incomplete run says so right after the plan`() {
    let lines = partialLog.ktap().split(separator: "\n")
    #expect(
      lines.prefix(3) == [
        "KTAP version 1", "1..4",
        "# INCOMPLETE: the run did not complete: 6 of 9 expected cases have no result; "
          + "1 fixture failed to load",
      ])
    #expect(!completeLog.ktap().contains("INCOMPLETE"))
    #expect(!completeLog.ktap().contains("not ok"))
  }
}

@Suite struct KTAPFailureContext {
  @Test func `a failure's diagnostics hold the mismatch once and the fixture's why`() {
    var failure = sample("clone3.size.65", .fail, observed: "E2BIG")
    failure.reason = "expected EINVAL (22): Invalid argument, observed E2BIG (7): too long"
    failure.why = "copy_clone_args_from_user()"
    let ktap = ResultLog(cases: [failure]).ktap(selection: "cases: clone3.size")
    #expect(
      ktap.contains(
        """
          # expected EINVAL, observed E2BIG
          # why: copy_clone_args_from_user()
          not ok 1 clone3.size.65 clone3.size.65 behaves
        """))
    #expect(ktap.contains("# Selection: cases 'clone3.size'\n"))
  }
}
