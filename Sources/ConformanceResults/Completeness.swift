/// Whether a log holds every result the run should have written.
///
/// A killed test process, a crash midway or a fixture that did not load all leave a log whose
/// results look clean, so every report and exit status asks this first. A log is incomplete when
/// a fixture failed to load, or when an area has fewer distinct case results than the fixtures
/// defined before any case ran (`EnvironmentRecord.expectedCases`). When the test process
/// selected the cases itself (`selectedCases`), the counts cover only the selected cases and
/// every area is judged. In a selection by test name (a filter selects whole tables) an area
/// without any result was not selected rather than lost; an area with some results must still
/// be complete. A selection with no result at all is judged like a
/// full run, because then nothing shows that the filter, rather than a crash, emptied it.
public struct Completeness: Sendable, Equatable {
  /// An area with fewer results than its fixture defines.
  public struct AreaShortfall: Sendable, Equatable {
    /// The area, such as `clone3.size`.
    public var area: String
    /// How many cases the fixture defines.
    public var expected: Int
    /// How many distinct cases of the area the log holds.
    public var recorded: Int

    /// The cases without a result.
    public var missing: Int { expected - recorded }

    /// Creates a shortfall.
    public init(area: String, expected: Int, recorded: Int) {
      self.area = area
      self.expected = expected
      self.recorded = recorded
    }

    /// `clone3.size: 40 of 64 expected cases have no result`.
    public var sentence: String {
      "\(area): \(missing) of \(expected) expected cases have no result"
    }
  }

  /// How many cases the judged areas should have: every area of a full run, the areas with
  /// results in a selection. nil when the log does not record the count (older logs).
  public var expectedCases: Int?
  /// The areas with missing results, by area name.
  public var shortfalls: [AreaShortfall]
  /// The fixture files that failed to load, as the environment records state them.
  public var fixtureErrors: [String]

  /// Creates a judgement from its parts.
  public init(expectedCases: Int?, shortfalls: [AreaShortfall], fixtureErrors: [String]) {
    self.expectedCases = expectedCases
    self.shortfalls = shortfalls
    self.fixtureErrors = fixtureErrors
  }

  /// Whether nothing is missing.
  public var isComplete: Bool { shortfalls.isEmpty && fixtureErrors.isEmpty }

  /// The cases without a result over every area; fixtures that failed to load are not counted,
  /// since nobody counted their cases.
  public var missingCases: Int { shortfalls.reduce(0) { $0 + $1.missing } }

  /// The file a fixture error names: `ns-last-pid.json` of `ns-last-pid.json: .cases[3]: ...`.
  public static func fixtureFile(of error: String) -> String {
    error.split(separator: ":", maxSplits: 1).first.map(String.init) ?? error
  }

  /// One sentence per problem: each area's shortfall, then each fixture error.
  public var problems: [String] {
    shortfalls.map(\.sentence) + fixtureErrors.map { "fixture failed to load: " + $0 }
  }

  /// `the run did not complete: 176 of 359 expected cases have no result; 1 fixture failed to
  /// load`, or nil when it did.
  public var summary: String? {
    guard !isComplete else { return nil }
    var parts: [String] = []
    if !shortfalls.isEmpty {
      parts.append(
        "\(missingCases) of \(expectedCases ?? missingCases) expected cases have no result")
    }
    if !fixtureErrors.isEmpty {
      parts.append(
        "\(fixtureErrors.count) fixture\(fixtureErrors.count == 1 ? "" : "s") failed to load")
    }
    return "the run did not complete: " + parts.joined(separator: "; ")
  }
}

extension ResultLog {
  /// Judges whether the log holds every result the run should have written.
  ///
  /// - Parameter selection: How the run was narrowed, when the caller knows it better than the
  ///   log; the environment's `selection` counts too.
  public func completeness(selection: String? = nil) -> Completeness {
    let fixtureErrors = environment?.fixtureErrors ?? []
    guard let expected = environment?.expectedCases else {
      return Completeness(expectedCases: nil, shortfalls: [], fixtureErrors: fixtureErrors)
    }
    let recorded = Dictionary(cases.map { ($0.area, 1) }, uniquingKeysWith: +)
    // Where the test process counted only the selected cases, every area is judged.
    let isSelection =
      (selection ?? environment?.selection) != nil && !cases.isEmpty
      && environment?.selectedCases == nil
    let judgedAreas = expected.keys.sorted().filter { !isSelection || recorded[$0] != nil }
    let shortfalls = judgedAreas.compactMap { area -> Completeness.AreaShortfall? in
      let expectedCount = expected[area] ?? 0
      let recordedCount = recorded[area] ?? 0
      guard recordedCount < expectedCount else { return nil }
      return .init(area: area, expected: expectedCount, recorded: recordedCount)
    }
    return Completeness(
      expectedCases: judgedAreas.reduce(0) { $0 + (expected[$1] ?? 0) }, shortfalls: shortfalls,
      fixtureErrors: fixtureErrors)
  }

  /// The selection the reports state: the one given on the command line, else the one the test
  /// process recorded.
  func effectiveSelection(_ selection: String?) -> String? {
    selection ?? environment?.selection
  }
}
