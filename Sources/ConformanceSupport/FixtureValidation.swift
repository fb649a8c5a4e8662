import Foundation
import KernelABI

/// Checks fixture files against the schema every area shares; each problem names the file and
/// the row.
///
/// The `call` of a row is area-specific and is checked by decoding it in that area's suite;
/// everything else is checked here: ids, titles, results, kernel ranges, known bugs, features.
public enum FixtureValidation {
  /// Problems in one fixture file, each a sentence that starts with the file and row.
  public static func problems(
    file: String, data: Data, features: Set<String>, seenIds: inout Set<String>
  ) -> [String] {
    var problems: [String] = []
    func complain(_ place: String, _ what: String) { problems.append("\(file)\(place): \(what)") }

    let parsed: Any
    do {
      parsed = try JSONSerialization.jsonObject(with: data)
    } catch {
      return ["\(file): not a JSON object: \(error.localizedDescription)"]
    }
    guard let root = parsed as? [String: Any] else { return ["\(file): not a JSON object"] }
    guard let area = root["area"] as? String, !area.isEmpty else {
      return ["\(file): missing \"area\""]
    }
    if (root["summary"] as? String)?.isEmpty ?? true { complain("", "missing \"summary\"") }
    let fileFeature = root["feature"] as? String
    if let fileFeature, !features.contains(fileFeature) {
      complain("", "unknown feature \"\(fileFeature)\"")
    }
    guard let cases = root["cases"] as? [[String: Any]], !cases.isEmpty else {
      return problems + ["\(file): \"cases\" must be a non-empty array of objects"]
    }

    for (index, row) in cases.enumerated() {
      let id = row["id"] as? String ?? ""
      let place = " case \(index + 1)" + (id.isEmpty ? "" : " (\(id))")
      if id.isEmpty { complain(place, "missing \"id\"") }
      if !id.isEmpty, !id.hasPrefix(area + ".") {
        complain(place, "id must start with the area \"\(area).\"")
      }
      if !id.isEmpty, !seenIds.insert(id).inserted { complain(place, "duplicate id") }
      if (row["title"] as? String)?.isEmpty ?? true { complain(place, "missing \"title\"") }
      if row["call"] == nil { complain(place, "missing \"call\"") }
      if let feature = row["feature"] as? String, !features.contains(feature) {
        complain(place, "unknown feature \"\(feature)\"")
      }
      guard let expect = row["expect"] as? [[String: Any]], !expect.isEmpty else {
        complain(place, "\"expect\" must be a non-empty array")
        continue
      }
      var ranges: [(Int, KernelRange)] = []
      for (number, expectation) in expect.enumerated() {
        let at = "\(place) expect[\(number)]"
        checkResult(expectation["result"], at: at, complain: complain)
        if let range = kernelRange(expectation["kernels"], at: at, complain: complain) {
          for (other, earlier) in ranges where earlier.overlaps(range) {
            complain(at, "kernels \(range) overlaps expect[\(other)] \(earlier)")
          }
          ranges.append((number, range))
        }
      }
      for (number, known) in ((row["known"] as? [[String: Any]]) ?? []).enumerated() {
        let at = "\(place) known[\(number)]"
        checkResult(known["result"], at: at, complain: complain)
        let kernels = known["kernels"] as? [Any] ?? []
        if kernels.isEmpty { complain(at, "a known bug needs the kernels it affects") }
        for range in kernels { _ = kernelRange(range, at: at, complain: complain) }
        let bug = known["bug"] as? [String: Any]
        if (bug?["title"] as? String)?.isEmpty ?? true { complain(at, "bug needs a \"title\"") }
        if (bug?["report"] as? String)?.isEmpty ?? true {
          complain(at, "bug needs a \"report\" (commit or link)")
        }
      }
    }
    return problems
  }

  private static func checkResult(
    _ value: Any?, at place: String, complain: (String, String) -> Void
  ) {
    guard let text = value as? String else {
      complain(place, "missing \"result\"")
      return
    }
    if ExpectedResult(text) == nil {
      complain(place, "unknown result \"\(text)\": use \"success\" or an errno name")
    }
  }

  private static func kernelRange(
    _ value: Any?, at place: String, complain: (String, String) -> Void
  ) -> KernelRange? {
    guard let value else { return KernelRange() }
    guard let object = value as? [String: Any] else {
      complain(place, "kernels must be {\"from\": \"5.5\", \"until\": \"7.0\"}")
      return nil
    }
    var range = KernelRange()
    for (key, bound) in [("from", \KernelRange.from), ("until", \KernelRange.until)] {
      guard let text = object[key] else { continue }
      guard let text = text as? String, let version = KernelVersion(release: text) else {
        complain(place, "kernels.\(key) is not a kernel version: \(object[key] ?? "")")
        return nil
      }
      range[keyPath: bound] = version
    }
    if let from = range.from, let until = range.until, from >= until {
      complain(place, "kernels \(range) is empty: from must be below until")
      return nil
    }
    return range
  }
}
