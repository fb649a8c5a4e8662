import ConformanceResults
import FoundationXML
import Testing

@Suite struct JUnitReport {
  private func document(_ log: ResultLog) throws -> XMLDocument {
    try XMLDocument(xmlString: log.junitXML(), options: [])
  }

  private func attribute(_ node: XMLNode, _ name: String) -> String? {
    (node as? XMLElement)?.attribute(forName: name)?.stringValue
  }

  /// The `name=value` of each property the path selects.
  private func properties(_ xml: XMLDocument, _ path: String) throws -> [String] {
    try xml.nodes(forXPath: path).map {
      "\(attribute($0, "name") ?? "")=\(attribute($0, "value") ?? "")"
    }
  }

  @Test func `suites carry the counts of their area and the root the totals`() throws {
    let xml = try document(sampleLog)
    let root = try #require(xml.rootElement())
    #expect(root.name == "testsuites")
    #expect(attribute(root, "tests") == "8")
    #expect(attribute(root, "failures") == "1")
    #expect(attribute(root, "errors") == "0")
    #expect(attribute(root, "skipped") == "4")
    let suites = try xml.nodes(forXPath: "/testsuites/testsuite")
    #expect(suites.map { attribute($0, "name") } == ["clone3.size", "clone3.cgroup", "set_tid"])
    #expect(suites.map { attribute($0, "tests") } == ["3", "2", "3"])
    #expect(suites.map { attribute($0, "failures") } == ["1", "0", "0"])
    #expect(suites.map { attribute($0, "skipped") } == ["0", "2", "2"])
  }

  @Test func `each case is a testcase with its failure or skip`() throws {
    let xml = try document(sampleLog)
    let cases = try xml.nodes(forXPath: "//testcase")
    #expect(cases.count == sampleLog.cases.count)
    #expect(attribute(cases[0], "classname") == "clone3.size")
    #expect(attribute(cases[0], "name") == "clone3.size.63: clone3.size.63 behaves")
    #expect(attribute(cases[0], "time") == "0.250")
    let failure = try #require(try xml.nodes(forXPath: "//testcase/failure").first)
    #expect(attribute(failure, "message") == "expected EINVAL, observed E2BIG")
    #expect(failure.stringValue == "size check moved")
    let skipped = try xml.nodes(forXPath: "//testcase/skipped").map { attribute($0, "message") }
    #expect(
      skipped == [
        "feature: kernel 6.1 lacks clone3.into_cgroup",
        "feature: kernel 6.1 lacks clone3.into_cgroup",
        "environment: user namespaces disabled",
        "KNOWN: \(levelBug.title) (\(levelBug.report))",
      ])
  }

  @Test func `a known case keeps its bug as properties`() throws {
    let xml = try document(sampleLog)
    #expect(
      try properties(xml, "//testcase[@classname='set_tid']/properties/property") == [
        "known-bug=\(levelBug.title)", "known-bug-report=\(levelBug.report)",
        "known-bug-fixed-by=0123abcd",
      ])
  }

  @Test func `markup, quotes, line breaks and control characters survive escaping`() throws {
    let title = "a & b < c > d \"e\" 'f'\nnext\tline \u{1}\u{1B}"
    let log = ResultLog(cases: [
      sample("x", .fail, area: "<area>", title: title, reason: "</failure>")
    ])
    let xml = try document(log)
    let testcase = try #require(try xml.nodes(forXPath: "//testcase").first)
    #expect(attribute(testcase, "name") == "x: a & b < c > d \"e\" 'f'\nnext\tline \\u{1}\\u{1B}")
    #expect(attribute(testcase, "classname") == "<area>")
    #expect(try xml.nodes(forXPath: "//failure").first?.stringValue == "</failure>")
  }

  @Test func `a BROKEN case is an error with its step, errno and likely cause`() throws {
    let xml = try document(partialLog)
    let error = try #require(try xml.nodes(forXPath: "//testcase/error[@type='BROKEN']").first)
    #expect(
      attribute(error, "message")
        == "clone3 of the blocker process failed with EAGAIN: RLIMIT_NPROC is 30 for uid 1000")
    #expect(
      error.stringValue == """
        step: clone3 of the blocker process
        errno: EAGAIN
        likely cause: RLIMIT_NPROC is 30 for uid 1000
        the blocker never started
        """)
    #expect(
      try properties(xml, "//testcase[error/@type='BROKEN']/properties/property") == [
        "setup-step=clone3 of the blocker process", "setup-errno=EAGAIN",
        "setup-cause=RLIMIT_NPROC is 30 for uid 1000",
      ])
    #expect(try xml.nodes(forXPath: "//failure").isEmpty)
  }

  @Test func `missing results and fixture errors are error testcases, counted in errors`() throws {
    let xml = try document(partialLog)
    let root = try #require(xml.rootElement())
    // 3 cases, one missing-results testcase for set_tid and one for ns_last_pid, one fixture.
    #expect(attribute(root, "tests") == "6")
    #expect(attribute(root, "errors") == "4")
    #expect(attribute(root, "failures") == "0")
    let suites = try xml.nodes(forXPath: "/testsuites/testsuite")
    #expect(
      suites.map { attribute($0, "name") } == ["clone3.size", "set_tid", "ns_last_pid", "fixtures"])
    #expect(suites.map { attribute($0, "errors") } == ["0", "2", "1", "1"])
    let incomplete = try xml.nodes(forXPath: "//testcase[error/@type='incomplete']")
    #expect(
      incomplete.map { attribute($0, "name") } == [
        "set_tid: missing results", "ns_last_pid: missing results", "fixture pid-max.json",
      ])
    #expect(
      try xml.nodes(forXPath: "//error[@type='incomplete']").map { attribute($0, "message") } == [
        "2 of 3 expected cases have no result", "4 of 4 expected cases have no result",
        "fixture failed to load: pid-max.json: .cases[2].call: unknown call 'frob'",
      ])
    #expect(try document(completeLog).nodes(forXPath: "//error").isEmpty)
  }

  @Test func `a failure carries the fixture's why, and the properties the selection`() throws {
    let failure = sample("clone3.size.65", .fail, observed: "E2BIG")
    var withWhy = failure
    withWhy.why = "copy_clone_args_from_user()"
    var environment = sampleEnvironment
    environment.selection = "cases: clone3.size"
    let xml = ResultLog(cases: [withWhy], environments: [environment]).junitXML()
    #expect(
      xml.contains(
        #"<failure message="expected EINVAL, observed E2BIG">why: copy_clone_args_from_user()"#
          + "</failure>"))
    #expect(xml.contains(#"<property name="selection" value="cases: clone3.size"/>"#))
  }
}
