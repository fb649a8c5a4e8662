import Foundation

extension ResultLog {
  /// Renders the log as one pretty-printed JSON document with sorted keys: `environment`,
  /// `summary` (the counts, BROKEN included, and skip reasons), `completeness` (whether every
  /// expected result is there, the missing count per area and the fixture errors), `cases`
  /// (BROKEN ones with their `setupFailure`), and `selection` and `notes` when present.
  ///
  /// - Parameter selection: How the run was narrowed; the log's own selection is used when nil.
  /// - Throws: `EncodingError` if a case's duration is not a finite number.
  public func json(selection: String? = nil) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    let selection = effectiveSelection(selection)
    let completeness = completeness(selection: selection)
    let document = JSONDocument(
      environment: environment,
      summary: .init(counts: tally, skipReasons: skipReasons),
      completeness: .init(
        complete: completeness.isComplete, expectedCases: completeness.expectedCases,
        missingCases: completeness.missingCases,
        missingByArea: Dictionary(
          completeness.shortfalls.map { ($0.area, $0.missing) }, uniquingKeysWith: +),
        fixtureErrors: completeness.fixtureErrors),
      cases: cases,
      selection: selection,
      notes: notes.isEmpty ? nil : notes)
    return String(decoding: try encoder.encode(document), as: UTF8.self) + "\n"
  }
}

private struct JSONDocument: Encodable {
  struct Summary: Encodable {
    var counts: Tally
    var skipReasons: [SkipReason]

    // The counts and the skip reasons share one object, so readers find `summary.fail`.
    func encode(to encoder: any Encoder) throws {
      try counts.encode(to: encoder)
      var container = encoder.container(keyedBy: CodingKeys.self)
      try container.encode(skipReasons, forKey: .skipReasons)
    }

    private enum CodingKeys: String, CodingKey { case skipReasons }
  }

  /// Always present, so a consumer can test `completeness.complete` without knowing whether
  /// the log recorded a case count; `expectedCases` is absent when it did not.
  struct Completeness: Encodable {
    var complete: Bool
    var expectedCases: Int?
    var missingCases: Int
    var missingByArea: [String: Int]
    var fixtureErrors: [String]
  }

  var environment: EnvironmentRecord?
  var summary: Summary
  var completeness: Completeness
  var cases: [CaseResult]
  var selection: String?
  var notes: [String]?
}
