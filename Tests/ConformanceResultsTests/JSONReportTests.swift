import ConformanceResults
import Foundation
import Testing

@Suite struct JSONReport {
  private func object(_ text: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
  }

  @Test func `the document holds environment, summary and cases`() throws {
    let json = try object(sampleLog.json())
    #expect(Set(json.keys) == ["environment", "summary", "cases"])
    let summary = try #require(json["summary"] as? [String: Any])
    #expect(summary["total"] as? Int == 8)
    #expect(summary["pass"] as? Int == 3)
    #expect(summary["fail"] as? Int == 1)
    #expect(summary["skip"] as? Int == 3)
    #expect(summary["known"] as? Int == 1)
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
    #expect(topLevelKeys == ["cases", "environment", "selection", "summary"])
  }
}
