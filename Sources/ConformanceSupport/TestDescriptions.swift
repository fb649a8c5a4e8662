import Testing

extension ConformanceCase: CustomTestStringConvertible {
  /// The case's id and sentence, so a failing argument names its row.
  public var testDescription: String { "\(id): \(title)" }
}
