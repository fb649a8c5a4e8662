import Foundation

/// One named value a case observes or expects: a number, a list of numbers (an NSpid line, a
/// capability set's words) or a word (a path, a signal name).
public enum FieldValue: Hashable, Sendable, Decodable, CustomStringConvertible {
  case number(Int64)
  case numbers([Int64])
  case word(String)

  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    switch JSONTree.value(for: decoder) {
    case .number(let number): self = .number(number)
    case .text(let word): self = .word(word)
    case .list: self = .numbers(try container.decode([Int64].self))
    case .flag, .object, .other, nil: self = try Self.guessing(container)
    }
  }

  private static func guessing(_ container: any SingleValueDecodingContainer) throws -> Self {
    do {
      return .numbers(try container.decode([Int64].self))
    } catch DecodingError.typeMismatch {
      switch try container.decodeNumberOrWord(Int64.self) {
      case .number(let number): return .number(number)
      case .word(let word): return .word(word)
      }
    }
  }

  /// `500`, `500 1` for a list, or the word itself.
  public var description: String {
    switch self {
    case .number(let number): "\(number)"
    case .numbers(let numbers): numbers.map(String.init).joined(separator: " ")
    case .word(let word): word
    }
  }
}

/// Named values, spelled in a stable order: `pid`, `nspid` and `value` first (as result logs
/// have always spelled them), then every other name alphabetically.
public struct Fields: Hashable, Sendable, ExpressibleByDictionaryLiteral {
  public var values: [String: FieldValue]

  public init(_ values: [String: FieldValue] = [:]) { self.values = values }
  public init(dictionaryLiteral elements: (String, FieldValue)...) {
    values = Dictionary(elements, uniquingKeysWith: { _, last in last })
  }

  public subscript(name: String) -> FieldValue? {
    get { values[name] }
    set { values[name] = newValue }
  }

  public var isEmpty: Bool { values.isEmpty }

  /// Whether every field here has the same value in `observed`; fields only observed are free.
  public func areMatched(by observed: Fields) -> Bool {
    values.allSatisfy { name, value in observed[name] == value }
  }

  /// `pid 500, NSpid 500 1`.
  public var spelled: String {
    let leading = ["pid", "nspid", "value"]
    let names =
      leading.filter { values[$0] != nil }
      + values.keys.filter { !leading.contains($0) }
      .sorted()
    return names.compactMap { name in
      values[name].map { "\(Self.labels[name] ?? name) \($0)" }
    }.joined(separator: ", ")
  }

  /// How a field's name is written where it differs from the name.
  static let labels = ["nspid": "NSpid"]
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

/// The result a case expects: success, or one errno by name.
public enum ExpectedResult: Hashable, Sendable, Decodable, CustomStringConvertible {
  case success
  /// The call fails with the errno of this name, such as `EINVAL`. The model does not know the
  /// numbers: the suite checks the name against the target's `<errno.h>` when it loads a table.
  case error(String)

  /// Parses `"success"` or an errno name such as `"EINVAL"`.
  public init?(_ text: String) {
    if text == "success" {
      self = .success
    } else if text.count > 1, text.first == "E",
      text.allSatisfy({ $0.isASCII && ($0.isUppercase || $0.isNumber) })
    {
      self = .error(text)
    } else {
      return nil
    }
  }

  public init(from decoder: any Decoder) throws {
    let text = try decoder.singleValueContainer().decode(String.self)
    guard let result = ExpectedResult(text) else {
      throw DecodingError.dataCorrupted(
        .init(codingPath: decoder.codingPath, debugDescription: Self.unknown(text)))
    }
    self = result
  }

  /// Why `text` is no result, as every check of a table words it.
  public static func unknown(_ text: String) -> String {
    "unknown result \"\(text)\": use \"success\" or an errno name"
  }

  /// `success` or the errno's name, as the result log spells it.
  public var name: String {
    switch self {
    case .success: "success"
    case .error(let name): name
    }
  }

  public var description: String { name }

  /// `EINVAL`, or the result with the fields it reports: `success (pid 500, NSpid 500 1)`,
  /// `ESRCH (secondRunning 1)`.
  public func spelled(with fields: Fields) -> String {
    fields.isEmpty ? name : "\(name) (\(fields.spelled))"
  }
}

/// Kernels `from` (inclusive) up to `until` (exclusive); an open end is unbounded.
public struct KernelRange: Decodable, Hashable, Sendable, CustomStringConvertible {
  public var from: KernelVersion?
  public var until: KernelVersion?

  public init(from: KernelVersion? = nil, until: KernelVersion? = nil) {
    self.from = from
    self.until = until
  }

  private enum CodingKeys: String, CodingKey, CaseIterable { case from, until }

  /// A misspelt bound (`"form"`) would leave that end open: the range would hold kernels the
  /// table never meant, so it is an error.
  public init(from decoder: any Decoder) throws {
    try decoder.rejectUnknownKeys(CodingKeys.allCases.map(\.rawValue))
    let container = try decoder.container(keyedBy: CodingKeys.self)
    from = try container.decodeIfPresent(KernelVersion.self, forKey: .from)
    until = try container.decodeIfPresent(KernelVersion.self, forKey: .until)
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
public struct Expectation: Decodable, Hashable, Sendable {
  /// Where this result holds; nil means every kernel that has the case's feature.
  public var kernels: KernelRange?
  public var result: ExpectedResult
  /// Every field the observation must report with this value: of a success, or of a failure
  /// the program went on after (`goOn`), as the steps after it report them.
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

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: NamedKey.self)
    kernels = try container.decodeIfPresent(KernelRange.self, forKey: NamedKey("kernels"))
    result = try container.decode(ExpectedResult.self, forKey: NamedKey("result"))
    why = try container.decodeIfPresent(String.self, forKey: NamedKey("why"))
    fields = try Fields(besides: ["kernels", "result", "why"], in: container)
  }

  /// `EINVAL`, or `success (pid 500, NSpid 500 1)`.
  public var spelled: String { result.spelled(with: fields) }
}

/// A key by name, for the objects whose other keys are fields.
struct NamedKey: CodingKey {
  var stringValue: String
  var intValue: Int? { nil }
  init(_ name: String) { stringValue = name }
  init?(stringValue: String) { self.stringValue = stringValue }
  init?(intValue: Int) { nil }
}

extension Decoder {
  /// The first key of the object this decoder holds, in sorted order, that is not one of
  /// `known`.
  public func firstKey(notIn known: some Sequence<String>) throws -> String? {
    try container(keyedBy: NamedKey.self).allKeys.map(\.stringValue).sorted().first {
      !known.contains($0)
    }
  }

  /// Throws for a key outside `known`: a misspelt or unsupported key in a table is an error,
  /// never a setting silently left out.
  public func rejectUnknownKeys(_ known: [String]) throws {
    if let unknown = try firstKey(notIn: known) {
      throw DecodingError.dataCorrupted(
        .init(
          codingPath: codingPath,
          debugDescription: "unknown key \"\(unknown)\" (known: \(known.joined(separator: ", ")))"))
    }
  }
}

extension Fields {
  /// Every key of `container` but `own`, as a field: how a table writes the fields of a
  /// success next to `result`.
  init(besides own: Set<String>, in container: KeyedDecodingContainer<NamedKey>) throws {
    self = [:]
    for key in container.allKeys where !own.contains(key.stringValue) {
      self[key.stringValue] = try container.decode(FieldValue.self, forKey: key)
    }
  }
}

/// A documented kernel bug: on these kernels the case gives `result` instead.
///
/// Like an expectation, a success may name fields beside `result`, which the observation must
/// have with those values: `{"result": "success", "cloexec": 1, "bug": {…}}` for a call that
/// succeeds but does the wrong thing.
public struct KnownBugExpectation: Decodable, Hashable, Sendable {
  public var kernels: [KernelRange]
  public var result: ExpectedResult
  /// For success: every field the buggy kernels report with this value.
  public var fields: Fields
  public var bug: KnownBug

  public init(
    kernels: [KernelRange], result: ExpectedResult, fields: Fields = [:], bug: KnownBug
  ) {
    self.kernels = kernels
    self.result = result
    self.fields = fields
    self.bug = bug
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: NamedKey.self)
    kernels = try container.decode([KernelRange].self, forKey: NamedKey("kernels"))
    result = try container.decode(ExpectedResult.self, forKey: NamedKey("result"))
    bug = try container.decode(KnownBug.self, forKey: NamedKey("bug"))
    // A misspelt `fixedBy` or `stable` would drop what the reports say about the fix.
    try container.superDecoder(forKey: NamedKey("bug")).rejectUnknownKeys(
      ["title", "report", "fixedBy", "stable"])
    fields = try Fields(besides: ["kernels", "result", "bug"], in: container)
  }

  /// `ENOTTY`, or `success (cloexec 1)`.
  public var spelled: String { result.spelled(with: fields) }
}

/// One row of a fixture table: what is called, and what each kernel must answer.
///
/// `Call` decodes the row's `call`: the suite's call types, or `Ignored` where only the rest
/// of the row matters (`conformance-report`).
public struct ConformanceCase<Call: Decodable & Sendable>: Decodable, Sendable {
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

  private enum CodingKeys: String, CodingKey, CaseIterable {
    case id, title, feature, call, expect, known
  }

  /// A misspelt key (`"knwon"`, `"featur"`) is an error: the row would run without its known
  /// bugs or with the table's feature, and nothing would say so.
  public init(from decoder: any Decoder) throws {
    try decoder.rejectUnknownKeys(CodingKeys.allCases.map(\.rawValue))
    let container = try decoder.container(keyedBy: CodingKeys.self)
    id = try container.decode(String.self, forKey: .id)
    title = try container.decode(String.self, forKey: .title)
    feature = try container.decodeIfPresent(String.self, forKey: .feature)
    call = try container.decode(Call.self, forKey: .call)
    expect = try container.decode([Expectation].self, forKey: .expect)
    known = try container.decodeIfPresent([KnownBugExpectation].self, forKey: .known)
  }

  /// The expectation for `version`, or nil when the case does not apply to that kernel.
  public func expectation(for version: KernelVersion?) -> Expectation? {
    guard let version else { return expect.count == 1 ? expect[0] : nil }
    return expect.first { $0.kernels?.contains(version) ?? true }
  }

  /// Every documented bug of the case, one line each: `title (report), on RANGES: RESULT`.
  public var knownBugLines: [String] {
    (known ?? []).map { entry in
      "\(entry.bug.title) (\(entry.bug.report)), on "
        + entry.kernels.map(\.description).joined(separator: ", ") + ": \(entry.spelled)"
    }
  }

  /// The known bug that predicts `observed` (and, for a success, its `fields`) on `version`,
  /// if any.
  public func knownBug(
    for version: KernelVersion?, observed: ExpectedResult, fields: Fields = [:]
  ) -> KnownBug? {
    guard let version else { return nil }
    return known?.first { entry in
      entry.result == observed && entry.kernels.contains { $0.contains(version) }
        && (observed != .success || entry.fields.areMatched(by: fields))
    }?.bug
  }
}

/// What the rows of a table call: the suite's programs, or `Ignored`.
public protocol FixtureCall: Decodable, Sendable {
  /// A named list of steps the table's header defines for its calls (`preludes`).
  associatedtype Prelude: Decodable & Sendable
}

/// A fixture file: one area's table of cases.
public struct FixtureFile<Call: FixtureCall>: Decodable, Sendable {
  /// The area every case id starts with, such as `clone3.size`.
  public var area: String
  /// One sentence on what the table covers and where the kernel implements it.
  public var summary: String
  /// The Swift Testing tags of the suite that runs the table, for `tag:` selectors.
  public var tags: [String]
  /// The feature every case needs unless it names its own.
  public var feature: String?
  /// The step lists a row's call may name to run first (`"use": "name"`).
  public var preludes: [String: Call.Prelude]?
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

  private enum CodingKeys: String, CodingKey, CaseIterable {
    case area, summary, tags, feature, preludes
    case rows = "cases"
  }

  /// A misspelt key (`"featur"`) is an error, as in a row.
  public init(from decoder: any Decoder) throws {
    try decoder.rejectUnknownKeys(CodingKeys.allCases.map(\.rawValue))
    let container = try decoder.container(keyedBy: CodingKeys.self)
    area = try container.decode(String.self, forKey: .area)
    summary = try container.decode(String.self, forKey: .summary)
    tags = try container.decode([String].self, forKey: .tags)
    feature = try container.decodeIfPresent(String.self, forKey: .feature)
    preludes = try container.decodeIfPresent([String: Call.Prelude].self, forKey: .preludes)
    rows = try container.decode([ConformanceCase<Call>].self, forKey: .rows)
  }

  /// Decodes the table `name` in `directory`, whole; errors name the file and the row.
  public static func load(_ name: String, from directory: URL) throws -> Self {
    let data = try Data(contentsOf: directory.appendingPathComponent(name))
    do {
      return try JSONTree.decoder(for: data).decode(Self.self, from: data)
    } catch let error as DecodingError {
      throw FixtureError(file: name, message: FixtureError.describe(error))
    }
  }
}

/// A value read only as being there: a row's call, a table's preludes or a feature's probe,
/// for readers that do not act on it (`conformance-report`).
public struct Ignored: FixtureCall {
  public typealias Prelude = Ignored
  public init(from decoder: any Decoder) throws {}
}

/// A kernel feature a case depends on, as `Fixtures/features.json` describes it.
///
/// `Probe` decodes the feature's `probe`: the suite's probe, or `Ignored` where only the rest
/// matters (`conformance-report`).
public struct FeatureDefinition<Probe: Decodable & Sendable>: Decodable, Sendable {
  /// The name cases use, such as `clone3.set_tid`.
  public var name: String
  /// The mainline release that added it: a kernel at or past it that lacks the feature fails.
  public var since: KernelVersion
  /// What the feature is, in one line.
  public var what: String
  /// How the suite finds out whether the running kernel has it.
  public var probe: Probe
  /// Distro kernels known to build without the feature, where its absence is a SKIP.
  public var removedIn: [DistroRemoval]?

  private enum CodingKeys: String, CodingKey, CaseIterable {
    case name, since, what, probe, removedIn
  }
}

extension FeatureDefinition {

  public init(from decoder: any Decoder) throws {
    // A misspelt `removedIn` would turn a distro kernel's documented absence into a FAIL.
    try decoder.rejectUnknownKeys(CodingKeys.allCases.map(\.rawValue))
    let container = try decoder.container(keyedBy: CodingKeys.self)
    name = try container.decode(String.self, forKey: .name)
    since = try container.decode(KernelVersion.self, forKey: .since)
    what = try container.decode(String.self, forKey: .what)
    removedIn = try container.decodeIfPresent([DistroRemoval].self, forKey: .removedIn)
    do {
      probe = try container.decode(Probe.self, forKey: .probe)
    } catch {
      let problem = (error as? DecodingError).map(FixtureError.describe) ?? "\(error)"
      throw FixtureError(file: "features.json", message: "feature \"\(name)\": probe: \(problem)")
    }
  }

  private struct File: Decodable { var features: [FeatureDefinition] }

  /// `features.json` in `directory`, by name: see `table(_:)`.
  public static func table(in directory: URL) throws -> [String: Self] {
    try table(Data(contentsOf: directory.appendingPathComponent("features.json")))
  }

  /// Decodes a feature table, by name; a malformed entry or probe, or a name listed twice, is
  /// an error naming the feature.
  public static func table(_ data: Data) throws -> [String: Self] {
    do {
      let features = try JSONDecoder().decode(File.self, from: data).features
      return try Dictionary(features.map { ($0.name, $0) }) { first, _ in
        throw FixtureError(
          file: "features.json", message: "feature \"\(first.name)\" is listed twice")
      }
    } catch let error as DecodingError {
      throw FixtureError(file: "features.json", message: FixtureError.describe(error))
    }
  }
}

/// A distro kernel that leaves a feature out on purpose.
public struct DistroRemoval: Decodable, Sendable {
  /// A substring of `uname -r`, such as `+deb12-rt`.
  public var releaseContains: String
  public var why: String
}

/// The case tables of a fixtures directory.
public enum FixtureTables {
  /// Files in a fixtures directory that are not case tables: the features, and `trees/`, the
  /// process trees that `tree-restore.json`'s rows restore.
  public static let otherFiles: Set<String> = ["features.json", "trees"]

  /// Every case table in `directory`: each `*.json` file but `features.json`, sorted.
  public static func names(in directory: URL) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory.path)
      .filter { $0.hasSuffix(".json") && !otherFiles.contains($0) }
      .sorted()
  }
}

/// A fixture file that does not fit the schema.
public struct FixtureError: Error, CustomStringConvertible {
  public var file: String
  public var message: String

  public init(file: String, message: String) {
    self.file = file
    self.message = message
  }

  public var description: String { "\(file): \(message)" }

  /// The decoder's complaint as `.cases[3].expect: missing "result"`.
  public static func describe(_ error: DecodingError) -> String {
    func path(_ codingPath: [any CodingKey]) -> String {
      let path = codingPath.map { key in
        key.intValue.map { "[\($0)]" } ?? ".\(key.stringValue)"
      }.joined()
      return path.isEmpty ? "" : path + ": "
    }
    switch error {
    case .dataCorrupted(let context) where context.codingPath.isEmpty:
      return "not valid JSON: \(context.debugDescription)"
    case .dataCorrupted(let context):
      return "\(path(context.codingPath))\(context.debugDescription)"
    case .keyNotFound(let key, let context):
      return "\(path(context.codingPath))missing \"\(key.stringValue)\""
    case .typeMismatch(let type, let context):
      return "\(path(context.codingPath))expected \(type): \(context.debugDescription)"
    case .valueNotFound(let type, let context):
      return "\(path(context.codingPath))missing \(type)"
    @unknown default:
      return "\(error)"
    }
  }
}
