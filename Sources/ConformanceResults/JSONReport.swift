import Foundation

extension ResultLog {
  /// Renders the log as one pretty-printed JSON document with sorted keys: `environment`,
  /// `summary` (the counts and skip reasons), `cases`, and `selection` and `notes` when present.
  ///
  /// - Throws: `EncodingError` if a case's duration is not a finite number.
  public func json(selection: String? = nil) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    let document = JSONDocument(
      environment: environment,
      summary: .init(counts: tally, skipReasons: skipReasons),
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

  var environment: EnvironmentRecord?
  var summary: Summary
  var cases: [CaseResult]
  var selection: String?
  var notes: [String]?
}
