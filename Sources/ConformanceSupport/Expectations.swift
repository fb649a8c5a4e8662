import CKernelABI
import ConformanceResults
import Foundation
import KernelABI

/// The result a case expects: success, or one errno by name.
public enum ExpectedResult: Hashable, Sendable, Codable, CustomStringConvertible {
  case success
  case failure(Errno)

  /// Parses `"success"` or an errno name such as `"EINVAL"`.
  public init?(_ text: String) {
    if text == "success" {
      self = .success
    } else if let errno = Errno(name: text) {
      self = .failure(errno)
    } else {
      return nil
    }
  }

  public init(from decoder: any Decoder) throws {
    let text = try decoder.singleValueContainer().decode(String.self)
    guard let result = ExpectedResult(text) else {
      throw DecodingError.dataCorrupted(
        .init(
          codingPath: decoder.codingPath,
          debugDescription: "unknown result \"\(text)\": use \"success\" or an errno name"))
    }
    self = result
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(name)
  }

  /// `success` or the errno's name, as the result log spells it.
  public var name: String {
    switch self {
    case .success: "success"
    case .failure(let errno): errno.name
    }
  }

  public var description: String {
    switch self {
    case .success: "success"
    case .failure(let errno): errno.description
    }
  }
}

/// Kernels `from` (inclusive) up to `until` (exclusive); an open end is unbounded.
public struct KernelRange: Codable, Hashable, Sendable, CustomStringConvertible {
  public var from: KernelVersion?
  public var until: KernelVersion?

  public init(from: KernelVersion? = nil, until: KernelVersion? = nil) {
    self.from = from
    self.until = until
  }

  public func contains(_ version: KernelVersion) -> Bool {
    (from.map { $0 <= version } ?? true) && (until.map { version < $0 } ?? true)
  }

  public func overlaps(_ other: KernelRange) -> Bool {
    let lower = max(from ?? KernelVersion(0, 0), other.from ?? KernelVersion(0, 0))
    let upperBounds = [until, other.until].compactMap { $0 }
    guard let upper = upperBounds.min() else { return true }
    return lower < upper
  }

  /// `5.5..<7.0`, `7.0+`, `<6.3`, or `all`.
  public var description: String {
    switch (from, until) {
    case (nil, nil): "all"
    case (let from?, nil): "\(from)+"
    case (nil, let until?): "<\(until)"
    case (let from?, let until?): "\(from)..<\(until)"
    }
  }
}

/// What a case expects on a range of kernels: the result (`success` or an errno name) and,
/// for a success, named fields the observation must have with the same values. In a table the
/// fields sit next to `result`: `{"result": "success", "pid": 500, "nspid": [500, 1]}`.
public struct Expectation: Codable, Hashable, Sendable {
  /// Where this result holds; nil means every kernel that has the case's feature.
  public var kernels: KernelRange?
  public var result: ExpectedResult
  /// For success: every field the observation must report with this value.
  public var fields: Fields
  /// Why this is the result on these kernels: the kernel function, or the commit that changed it.
  public var why: String?

  public init(
    kernels: KernelRange? = nil, result: ExpectedResult, fields: Fields = [:], why: String? = nil
  ) {
    self.kernels = kernels
    self.result = result
    self.fields = fields
    self.why = why
  }

  private struct Key: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
  }

  private static let ownKeys: Set<String> = ["kernels", "result", "why"]

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: Key.self)
    kernels = try container.decodeIfPresent(KernelRange.self, forKey: Key("kernels"))
    result = try container.decode(ExpectedResult.self, forKey: Key("result"))
    why = try container.decodeIfPresent(String.self, forKey: Key("why"))
    fields = [:]
    for key in container.allKeys where !Self.ownKeys.contains(key.stringValue) {
      fields[key.stringValue] = try container.decode(FieldValue.self, forKey: key)
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: Key.self)
    try container.encodeIfPresent(kernels, forKey: Key("kernels"))
    try container.encode(result, forKey: Key("result"))
    try container.encodeIfPresent(why, forKey: Key("why"))
    for (name, value) in fields.values { try container.encode(value, forKey: Key(name)) }
  }
}

/// A documented kernel bug: on these kernels the case gives `result` instead.
public struct KnownBugExpectation: Codable, Hashable, Sendable {
  public var kernels: [KernelRange]
  public var result: ExpectedResult
  public var bug: KnownBug
}

/// One row of a fixture table: what is called, and what each kernel must answer.
public struct ConformanceCase<Call: Codable & Sendable>: Codable, Sendable {
  /// Stable id, prefixed by the area: `clone3.size.63`.
  public var id: String
  /// The fixture file's area; set when the file is loaded.
  public var area: String = ""
  /// The case as the ABI's own sentence.
  public var title: String
  /// The feature the case needs; defaults to the fixture file's feature.
  public var feature: String?
  public var call: Call
  public var expect: [Expectation]
  public var known: [KnownBugExpectation]?

  private enum CodingKeys: String, CodingKey {
    case id, title, feature, call, expect, known
  }

  /// The expectation for `version`, or nil when the case does not apply to that kernel.
  public func expectation(for version: KernelVersion?) -> Expectation? {
    guard let version else { return expect.count == 1 ? expect[0] : nil }
    return expect.first { $0.kernels?.contains(version) ?? true }
  }

  /// Every documented bug of the case, one line each: `title (report), on RANGES: RESULT`.
  var knownBugLines: [String] {
    (known ?? []).map { entry in
      let result =
        switch entry.result {
        case .success: "success"
        case .failure(let errno): errno.name
        }
      return "\(entry.bug.title) (\(entry.bug.report)), on "
        + entry.kernels.map(\.description).joined(separator: ", ") + ": \(result)"
    }
  }

  /// The known bug that predicts `observed` on `version`, if any.
  public func knownBug(for version: KernelVersion?, observed: ExpectedResult) -> KnownBug? {
    guard let version else { return nil }
    return known?.first { entry in
      entry.result == observed && entry.kernels.contains { $0.contains(version) }
    }?.bug
  }
}

/// A fixture file: one area's table of cases.
public struct FixtureFile<Call: Codable & Sendable>: Codable, Sendable {
  /// The area every case id starts with, such as `clone3.size`.
  public var area: String
  /// One sentence on what the table covers and where the kernel implements it.
  public var summary: String
  /// The feature every case needs unless it names its own.
  public var feature: String?
  /// Named step lists the rows' programs may run first (`"use": "name"`).
  public var preludes: [String: Prelude]?
  /// The rows, each with its area and, unless it names one, the file's feature.
  public var cases: [ConformanceCase<Call>] {
    get {
      rows.map { row in
        var row = row
        row.area = area
        row.feature = row.feature ?? feature
        return row
      }
    }
    set { rows = newValue }
  }
  private var rows: [ConformanceCase<Call>]

  private enum CodingKeys: String, CodingKey {
    case area, summary, feature, preludes
    case rows = "cases"
  }
}

/// Finds and reads the tables in `Fixtures/`.
public enum Fixtures {
  /// `Fixtures/` of this checkout, or `$PIDNS_FIXTURES` (for a test binary copied into a VM).
  public static let directory: URL = {
    if let override = ProcessInfo.processInfo.environment["PIDNS_FIXTURES"] {
      return URL(fileURLWithPath: override, isDirectory: true)
    }
    return URL(fileURLWithPath: #filePath)
      .deletingLastPathComponent()  // ConformanceSupport
      .deletingLastPathComponent()  // Sources
      .deletingLastPathComponent()  // package root
      .appendingPathComponent("Fixtures", isDirectory: true)
  }()

  /// Every fixture file name, sorted.
  public static func fileNames() throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory.path)
      .filter { $0.hasSuffix(".json") }
      .sorted()
  }

  /// Decodes `name` as a table of `Call` rows, whole, and keeps the rows `selection` selects
  /// (by default the run's `$PIDNS_CASES`). Errors name the file and the row.
  public static func load<Call>(
    _ name: String, as call: Call.Type = Call.self, from directory: URL = directory,
    selection: CaseSelection? = CaseSelection.current
  ) throws -> FixtureFile<Call> {
    let data = try Data(contentsOf: directory.appendingPathComponent(name))
    var table: FixtureFile<Call>
    do {
      table = try JSONDecoder().decode(FixtureFile<Call>.self, from: data)
    } catch let error as DecodingError {
      throw FixtureError(file: name, message: FixtureError.describe(error))
    }
    table.cases = try table.cases.map { try $0.resolvingPrelude(in: table.preludes, file: name) }
    for row in table.cases {
      if let problem = (row.call as? any CheckedCall)?.problem {
        throw FixtureError(file: name, message: "\(row.id): \(problem)")
      }
    }
    table.narrow(to: selection, file: name)
    return table
  }
}

/// A call whose row can be well-formed JSON and still not be a call the suite can make safely.
public protocol CheckedCall {
  /// Why the suite refuses the row, or nil.
  var problem: String? { get }
}

extension CloneFlags {
  /// Flags that make the child share the caller's memory or stack, or set its TLS: without a
  /// stack of its own the child would run on the body's stack.
  static let needingOwnStack: CloneFlags = [
    .init(rawValue: KABI_CLONE_VM), .init(rawValue: KABI_CLONE_THREAD),
    .init(rawValue: KABI_CLONE_SETTLS), .init(rawValue: KABI_CLONE_VFORK),
  ]

  /// Why a fork-like child (no stack given) cannot be made with these flags, or nil.
  var stacklessProblem: String? {
    let offending = intersection(.needingOwnStack)
    guard !offending.isEmpty else { return nil }
    return "\(offending) needs a stack for the child, which this call type does not give it"
  }
}

/// A fixture file that does not fit the schema.
public struct FixtureError: Error, CustomStringConvertible {
  public var file: String
  public var message: String

  public var description: String { "\(file): \(message)" }

  static func describe(_ error: DecodingError) -> String {
    func path(_ codingPath: [any CodingKey]) -> String {
      codingPath.map { key in
        key.intValue.map { "[\($0)]" } ?? ".\(key.stringValue)"
      }.joined()
    }
    switch error {
    case .dataCorrupted(let context) where context.codingPath.isEmpty:
      return "not valid JSON: \(context.debugDescription)"
    case .dataCorrupted(let context):
      return "\(path(context.codingPath)): \(context.debugDescription)"
    case .keyNotFound(let key, let context):
      return "\(path(context.codingPath)): missing \"\(key.stringValue)\""
    case .typeMismatch(let type, let context):
      return "\(path(context.codingPath)): expected \(type): \(context.debugDescription)"
    case .valueNotFound(let type, let context):
      return "\(path(context.codingPath)): missing \(type)"
    @unknown default:
      return "\(error)"
    }
  }
}

/// A fixture scalar that is either a number or a word: fixtures spell sizes, PIDs and depths
/// both ways (`64` or `"PAGE_SIZE+8"`, `500` or `"pid_max-1"`).
public enum NumberOrWord<Number: Decodable> {
  case number(Number)
  case word(String)
}

extension SingleValueDecodingContainer {
  /// The value as a `Number`, or as a word when it is not a number at all; any other problem
  /// (a number out of range, a word that is not a string) is thrown, never passed over.
  public func decodeNumberOrWord<Number: Decodable>(_ type: Number.Type) throws
    -> NumberOrWord<Number>
  {
    do {
      return .number(try decode(Number.self))
    } catch DecodingError.typeMismatch {
      return .word(try decode(String.self))
    }
  }
}
