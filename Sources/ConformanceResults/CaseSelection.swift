import Foundation

/// The cases a run is narrowed to, by the ids every report shows (`$PIDNS_CASES`).
///
/// Selectors are separated by commas or spaces. `tag:NAME` selects every case of the tables
/// whose suite carries the Swift Testing tag NAME (`tag:nsfs`); any other selector selects the
/// case with that id and every case whose id continues it after a dot: `clone3.size.63` one
/// case, `set_tid.order` an area, `set_tid` every set_tid area. Matching whole id components,
/// `clone3.size.6` does not pick up `clone3.size.60`. The selection happens where the tables
/// are loaded, so an unselected case never runs and the environment record counts only the
/// selected cases.
public struct CaseSelection: Sendable, Equatable {
  /// The selectors as given.
  public let selectors: [String]
  private let ids: Set<String>
  private let tags: Set<String>

  /// Parses a selection; nil when it holds no selector.
  public init?(_ text: String) {
    selectors = text.split(whereSeparator: { $0 == "," || $0.isWhitespace }).map(String.init)
    if selectors.isEmpty { return nil }
    let tagged = selectors.filter { $0.hasPrefix(Self.tagPrefix) }
    tags = Set(tagged.map { String($0.dropFirst(Self.tagPrefix.count)) })
    ids = Set(selectors).subtracting(tagged)
  }

  /// The selection of this test process, or nil for a full run.
  public static let current: CaseSelection? = ProcessInfo.processInfo.environment["PIDNS_CASES"]
    .flatMap(CaseSelection.init)

  /// The tag prefix of a selector.
  static let tagPrefix = "tag:"

  /// Whether the case `id` of a table with these tags is selected: by `id` itself or one of
  /// its dotted prefixes (looked up, as a run may name hundreds of ids), or by a tag.
  public func selects(id: String, tags: [String]) -> Bool {
    if tags.contains(where: self.tags.contains) { return true }
    var prefix = Substring(id)
    while true {
      if ids.contains(String(prefix)) { return true }
      guard let dot = prefix.lastIndex(of: ".") else { return false }
      prefix = prefix[..<dot]
    }
  }

  /// How the reports name the selection: `cases: clone3.size.63 tag:nsfs`.
  public var description: String { "cases: " + selectors.joined(separator: " ") }
}

extension FixtureFile {
  /// Keeps only the rows `selection` selects; every row when it is nil.
  public mutating func narrow(to selection: CaseSelection?) {
    guard let selection else { return }
    let tags = tags
    cases = cases.filter { selection.selects(id: $0.id, tags: tags) }
  }
}
