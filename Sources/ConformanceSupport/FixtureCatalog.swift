import ConformanceResults
import Foundation

/// One fixture table and how the suite reads it.
public struct FixtureTable: Sendable {
  /// The file name in `Fixtures/`.
  public var file: String
  /// The Swift Testing tags of the suite that runs the table, for `tag:` selectors.
  public var tags: [String]
  /// Decodes the whole file, calls included, and returns its area and the cases run from it.
  public var load: @Sendable () throws -> (area: String, cases: Int)

  /// A table whose rows decode as `Call` and run one case each.
  public init<Call: Codable & Sendable>(_ file: String, _ call: Call.Type, tags: [String]) {
    self.file = file
    self.tags = tags
    load = {
      let table = try Fixtures.load(file, as: Call.self)
      return (table.area, table.cases.count)
    }
  }

  /// A table the suite expands into more cases than it has rows.
  public init(
    _ file: String, tags: [String],
    load: @escaping @Sendable () throws -> (area: String, cases: Int)
  ) {
    self.file = file
    self.tags = tags
    self.load = load
  }
}

/// Every fixture table the suite runs, each exactly once: the fixture validation checks that
/// `Fixtures/` holds no other table, and the result log records how many cases each area has,
/// so a table that fails to load or a run that stops midway cannot look complete.
public enum FixtureCatalog {
  public static let tables: [FixtureTable] = [
    FixtureTable("capabilities.json", ProgramCall.self, tags: ["capabilities"]),
    FixtureTable("clone3-sizes.json", ProgramCall.self, tags: ["clone3"]),
    FixtureTable("ns-last-pid.json", ProgramCall.self, tags: ["setTid"]),
    FixtureTable("nsfs-ioctl.json", ProgramCall.self, tags: ["nsfs"]),
    FixtureTable("pid-max.json", ProgramCall.self, tags: ["setTid"]),
    FixtureTable("set-tid-errors.json", ProgramCall.self, tags: ["clone3", "setTid"]),
    FixtureTable("set-tid-historical.json", ProgramCall.self, tags: ["clone3", "setTid"]),
    FixtureTable("set-tid-historical-layout.json", ProgramCall.self, tags: ["clone3", "setTid"]),
    FixtureTable("set-tid-levels.json", tags: ["clone3", "setTid"]) {
      let cases = try SetTidDepths.cases("set-tid-levels.json")
      return (cases.first?.area ?? "set_tid.levels", cases.count)
    },
    FixtureTable("set-tid-order.json", ProgramCall.self, tags: ["clone3", "setTid"]),
    FixtureTable("set-tid-parent.json", ProgramCall.self, tags: ["clone3", "setTid"]),
    FixtureTable("set-tid-thread.json", ProgramCall.self, tags: ["clone3", "setTid"]),
  ]

  /// The tags of the suite that runs `file`; none for a file the catalog does not hold.
  public static func tags(of file: String) -> [String] {
    tables.first { $0.file == file }?.tags ?? []
  }

  /// Files in `Fixtures/` that are not case tables.
  public static let otherFiles: Set<String> = ["features.json"]

  /// Cases per area, and the tables that could not be loaded (`file: problem`).
  public static let expectedCases: (counts: [String: Int], errors: [String]) = {
    var counts: [String: Int] = [:]
    var errors: [String] = []
    do {
      _ = try Features.loadDefinitions()
    } catch {
      errors.append("\(error)")
    }
    for table in tables {
      do {
        let (area, cases) = try table.load()
        counts[area, default: 0] += cases
      } catch let error as FixtureError {
        errors.append(error.description)
      } catch {
        errors.append("\(table.file): \(error)")
      }
    }
    return (counts, errors)
  }()
}

extension Collection {
  /// nil for an empty collection, so an optional field stays out of the JSON.
  var nilIfEmpty: Self? { isEmpty ? nil : self }
}
