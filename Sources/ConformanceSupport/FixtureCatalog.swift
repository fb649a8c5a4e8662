/// Every fixture table the suite runs: each table in `Fixtures/` (every `*.json` file but
/// `features.json`), found by listing the directory. The result log records how many cases each
/// area has, so a table that fails to load or a run that stops midway cannot look complete.
public enum FixtureCatalog {
  /// Cases per area, and the tables that could not be loaded (`file: problem`).
  public static let expectedCases: (counts: [String: Int], errors: [String]) = {
    var counts: [String: Int] = [:]
    var errors: [String] = []
    if case .failure(let error) = Features.table { errors.append("\(error)") }
    let files: [String]
    do {
      files = try Fixtures.tableNames()
    } catch {
      return (counts, errors + ["\(Fixtures.directory.path): \(error)"])
    }
    for file in files {
      do {
        // Read as its suite reads it: rows of programs, one case each.
        let table = try Fixtures.load(file)
        counts[table.area, default: 0] += table.cases.count
      } catch let error as FixtureError {
        errors.append(error.description)
      } catch {
        errors.append("\(file): \(error)")
      }
    }
    return (counts, errors)
  }()
}

extension Collection {
  /// nil for an empty collection, so an optional field stays out of the JSON.
  var nilIfEmpty: Self? { isEmpty ? nil : self }
}
