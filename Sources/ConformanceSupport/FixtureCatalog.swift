import Foundation

/// Every fixture table the suite runs: each table in `Fixtures/` (every `*.json` file but
/// `features.json`), found by listing the directory. The result log records how many cases each
/// area has, so a table that fails to load or a run that stops midway cannot look complete.
public enum FixtureCatalog {
  /// Cases per area, and the tables that could not be loaded or break the schema
  /// (`file: problem`).
  public static let expectedCases: (counts: [String: Int], errors: [String]) = {
    let (counts, errors) = expected(in: Fixtures.directory)
    guard case .failure(let error) = Features.table else { return (counts, errors) }
    return (counts, ["\(error)"] + errors)
  }()

  /// Cases per area of the tables in `directory` that `selection` selects, and what is wrong
  /// with the tables: one that does not load, or breaks the schema every area shares
  /// (`FixtureValidation`: a fixture edited where the suite runs is checked there, not only by
  /// the unit tests).
  static func expected(
    in directory: URL, selection: CaseSelection? = CaseSelection.current
  ) -> (counts: [String: Int], errors: [String]) {
    var counts: [String: Int] = [:]
    var errors: [String] = []
    let files: [String]
    do {
      files = try FixtureTables.names(in: directory)
    } catch {
      return (counts, ["\(directory.path): \(error)"])
    }
    var seenIds: Set<String> = []
    for file in files {
      do {
        // Read as its suite reads it: rows of programs, one case each.
        let whole = try Fixtures.load(file, from: directory, selection: nil)
        errors += FixtureValidation.problems(
          in: whole, file: file, features: Set(Features.definitions.keys), seenIds: &seenIds)
        let selected = try Fixtures.load(file, from: directory, selection: selection)
        counts[whole.area, default: 0] += selected.cases.count
      } catch let error as FixtureError {
        errors.append(error.description)
      } catch {
        errors.append("\(file): \(error)")
      }
    }
    return (counts, errors)
  }
}

extension Collection {
  /// nil for an empty collection, so an optional field stays out of the JSON.
  var nilIfEmpty: Self? { isEmpty ? nil : self }
}
