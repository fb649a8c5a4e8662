import ConformanceResults
import Foundation
import Testing

@Suite struct JSONReport {
  private func object(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
  }

  @Test func `the document holds environment, summary and cases`() throws {
    let json = try object(sampleLog.json())
    #expect(Set(json.keys) == ["environment", "summary", "completeness", "cases"])
    let summary = try #require(json["summary"] as? [String: Any])
    #expect(summary["total"] as? Int == 8)
    #expect(summary["pass"] as? Int == 3)
    #expect(summary["fail"] as? Int == 1)
    #expect(summary["skip"] as? Int == 3)
    #expect(summary["known"] as? Int == 1)
    #expect(summary["broken"] as? Int == 0)
    #expect(summary["skipsByKind"] as? [String: Int] == ["feature": 2, "environment": 1])
    #expect((summary["skipReasons"] as? [Any])?.count == 2)
    #expect((json["cases"] as? [Any])?.count == 8)
    #expect((json["environment"] as? [String: Any])?["kernel"] as? String == "6.1.0")
  }

  @Test func `the cases decode back to the log`() throws {
    struct Cases: Decodable { var cases: [CaseResult] }
    let decoded = try JSONDecoder().decode(Cases.self, from: Data(sampleLog.json().utf8))
    #expect(decoded.cases == sampleLog.cases)
  }

  @Test func `keys are sorted and a selection is recorded`() throws {
    let text = try sampleLog.json(selection: "filter: SetTid")
    #expect(try object(text)["selection"] as? String == "filter: SetTid")
    let topLevelKeys = text.split(separator: "\n").filter { $0.hasPrefix("  \"") }
      .map { $0.split(separator: "\"")[1] }
    #expect(topLevelKeys == ["cases", "completeness", "environment", "selection", "summary"])
  }

  @Test func `a log without a recorded count is complete without an expected count`() throws {
    let completeness = try #require(try object(sampleLog.json())["completeness"] as? [String: Any])
    #expect(completeness["complete"] as? Bool == true)
    #expect(completeness["expectedCases"] == nil)
    #expect(completeness["missingCases"] as? Int == 0)
  }

  @Test func `a BROKEN case keeps its status and setup failure`() throws {
    let json = try object(partialLog.json())
    #expect((json["summary"] as? [String: Any])?["broken"] as? Int == 1)
    let cases = try #require(json["cases"] as? [[String: Any]])
    let broken = try #require(cases.first { $0["id"] as? String == "set_tid.blocker" })
    #expect(broken["status"] as? String == "BROKEN")
    #expect(
      broken["setupFailure"] as? [String: String] == [
        "step": "clone3 of the blocker process", "errno": "EAGAIN",
        "cause": "RLIMIT_NPROC is 30 for uid 1000",
      ])
  }

  @Test func `an incomplete run names the missing count per area and the fixture errors`() throws {
    let completeness = try #require(try object(partialLog.json())["completeness"] as? [String: Any])
    #expect(completeness["complete"] as? Bool == false)
    #expect(completeness["expectedCases"] as? Int == 9)
    #expect(completeness["missingCases"] as? Int == 6)
    #expect(completeness["missingByArea"] as? [String: Int] == ["ns_last_pid": 4, "set_tid": 2])
    #expect(
      completeness["fixtureErrors"] as? [String] == [
        "pid-max.json: .cases[2].call: unknown call 'frob'"
      ])
  }
}
