/// Checks fixture tables against the schema every area shares; each problem names the file and
/// the row.
///
/// The table is one `Fixtures.load` decoded, which has already refused what does not fit the
/// model (a missing key, a malformed call, an errno name this build does not know). What the
/// model can hold but a table must not is checked here: ids, titles, kernel ranges, known bugs,
/// features.
public enum FixtureValidation {
  /// Problems in the table `file`, each a sentence that starts with the file and row.
  public static func problems(
    in table: FixtureFile<some Decodable & Sendable>, file: String, features: Set<String>,
    seenIds: inout Set<String>
  ) -> [String] {
    var problems: [String] = []
    func complain(_ place: String, _ what: String) { problems.append("\(file)\(place): \(what)") }

    if table.area.isEmpty { complain("", "missing \"area\"") }
    if table.summary.isEmpty { complain("", "missing \"summary\"") }
    if table.tags.isEmpty { complain("", "\"tags\" must name the tags of the suite that runs it") }
    if let feature = table.feature, !features.contains(feature) {
      complain("", "unknown feature \"\(feature)\"")
    }
    if table.cases.isEmpty { complain("", "\"cases\" must be a non-empty array of objects") }

    for (index, row) in table.cases.enumerated() {
      let place = " case \(index + 1)" + (row.id.isEmpty ? "" : " (\(row.id))")
      if row.id.isEmpty { complain(place, "missing \"id\"") }
      // Selectors are split at commas and spaces: another id could never be selected alone.
      if !row.id.isEmpty, !CaseSelection.isCaseId(row.id) {
        complain(place, "id must be letters, digits, '_', '-', '+' and '.'")
      }
      if !row.id.isEmpty, !row.id.hasPrefix(table.area + ".") {
        complain(place, "id must start with the area \"\(table.area).\"")
      }
      if !row.id.isEmpty, !seenIds.insert(row.id).inserted { complain(place, "duplicate id") }
      if row.title.isEmpty { complain(place, "missing \"title\"") }
      if let feature = row.feature, feature != table.feature, !features.contains(feature) {
        complain(place, "unknown feature \"\(feature)\"")
      }
      if row.expect.isEmpty { complain(place, "\"expect\" must be a non-empty array") }
      var ranges: [(Int, KernelRange)] = []
      for (number, expectation) in row.expect.enumerated() {
        let at = "\(place) expect[\(number)]"
        let range = expectation.kernels ?? KernelRange()
        if let problem = range.problem {
          complain(at, problem)
          continue
        }
        for (other, earlier) in ranges where earlier.overlaps(range) {
          complain(at, "kernels \(range) overlaps expect[\(other)] \(earlier)")
        }
        ranges.append((number, range))
      }
      for (number, known) in (row.known ?? []).enumerated() {
        let at = "\(place) known[\(number)]"
        if known.result != .success, !known.fields.isEmpty {
          complain(at, "fields (\(known.fields.spelled)) belong to a known success only")
        }
        if known.kernels.isEmpty { complain(at, "a known bug needs the kernels it affects") }
        for problem in known.kernels.compactMap(\.problem) { complain(at, problem) }
        // `Conformance.judge` asks the known bugs only when the observation misses the
        // expectation, and only on kernels an expectation covers: elsewhere the entry is dead.
        for range in known.kernels where range.problem == nil {
          let covering = row.expect.enumerated().filter {
            ($0.element.kernels ?? KernelRange()).overlaps(range)
          }
          if covering.isEmpty {
            complain(at, "kernels \(range) can never match: no expectation covers them")
          }
          for (number, expectation) in covering
          where expectation.result == known.result
            && (known.result != .success || expectation.fields.areMatched(by: known.fields))
          {
            complain(
              at,
              "\(known.spelled) on \(range) can never match: expect[\(number)] states it on "
                + (expectation.kernels ?? KernelRange()).description)
          }
        }
        if known.bug.title.isEmpty { complain(at, "bug needs a \"title\"") }
        if known.bug.report.isEmpty { complain(at, "bug needs a \"report\" (commit or link)") }
      }
    }
    return problems
  }
}

extension KernelRange {
  /// Why the range holds no kernel, or nil.
  var problem: String? {
    guard let from, let until, from >= until else { return nil }
    return "kernels \(self) is empty: from must be below until"
  }
}
