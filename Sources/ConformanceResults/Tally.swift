/// Case counts by status: the one place every report takes its numbers from.
public struct Tally: Sendable, Equatable, Encodable {
  /// All cases counted.
  public private(set) var total = 0
  /// Cases with status PASS.
  public private(set) var pass = 0
  /// Cases with status FAIL.
  public private(set) var fail = 0
  /// Cases with status SKIP.
  public private(set) var skip = 0
  /// Cases with status KNOWN.
  public private(set) var known = 0
  /// Cases with status BROKEN: their own setup failed.
  public private(set) var broken = 0
  /// SKIP cases by `SkipKind` raw value; a SKIP without a kind counts as `unspecified`.
  public private(set) var skipsByKind: [String: Int] = [:]

  /// Counts the given cases.
  public init(_ cases: some Sequence<CaseResult>) {
    for result in cases {
      total += 1
      switch result.status {
      case .pass: pass += 1
      case .fail: fail += 1
      case .broken: broken += 1
      case .known: known += 1
      case .skip: skipsByKind[result.skipKindLabel, default: 0] += 1
      }
    }
    skip = skipsByKind.values.reduce(0, +)
  }

  /// Cases that ran to a verdict: PASS, FAIL or KNOWN. BROKEN cases did not: their setup
  /// failed before the kernel was asked.
  public var ran: Int { pass + fail + known }

  /// The skip counts by kind in a fixed order, leaving out kinds with no skips.
  public var skipKinds: [(kind: String, count: Int)] {
    Self.skipKindOrder.compactMap { kind in skipsByKind[kind].map { (kind, $0) } }
  }

  /// `312 cases: 290 pass, 0 fail, 2 broken, 16 skip, 4 known`, optionally with the skip kinds
  /// in parentheses after the skip count and `, of 359 expected` when the log records how many
  /// cases the fixtures define. The line starts `N cases:` because scripts grep for it.
  public func countsLine(withSkipKinds: Bool = false, expected: Int? = nil) -> String {
    let kinds =
      withSkipKinds && skip > 0
      ? " (" + skipKinds.map { "\($0.count) \($0.kind)" }.joined(separator: ", ") + ")" : ""
    return "\(total) cases: \(pass) pass, \(fail) fail, \(broken) broken, \(skip) skip\(kinds), "
      + "\(known) known" + (expected.map { ", of \($0) expected" } ?? "")
  }

  /// `N passed, N failed, N skipped`, the line CI parses, in exactly that format. BROKEN cases
  /// count as failed (they are not passes, and the line has no other place for them); KNOWN
  /// cases count in none of them.
  public var closingLine: String { "\(pass) passed, \(fail + broken) failed, \(skip) skipped" }

  static let skipKindOrder = SkipKind.allCases.map(\.rawValue) + [CaseResult.unspecifiedSkipKind]
}

extension CaseResult {
  static let unspecifiedSkipKind = "unspecified"

  /// What broke a BROKEN case, as one line: its setup failure, else the reason it gave.
  var setupSummary: String {
    setupFailure?.summary ?? reason ?? "setup failed (no step recorded)"
  }

  /// The skip kind as reports print it.
  var skipKindLabel: String { skipKind?.rawValue ?? Self.unspecifiedSkipKind }
}

/// The distinct reasons given for skipping, with how many cases gave each.
public struct SkipReason: Sendable, Equatable, Encodable {
  /// The `SkipKind` raw value, or `unspecified`.
  public var kind: String
  /// The reason as the log states it.
  public var reason: String
  /// How many cases were skipped for it.
  public var count: Int

  /// Creates a reason with its count.
  public init(kind: String, reason: String, count: Int) {
    self.kind = kind
    self.reason = reason
    self.count = count
  }
}

extension ResultLog {
  /// The counts over every case.
  public var tally: Tally { Tally(cases) }

  /// The skip reasons, grouped by kind in a fixed order and by count within a kind.
  public var skipReasons: [SkipReason] {
    var counts: [String: [String: Int]] = [:]
    for result in cases where result.status == .skip {
      counts[result.skipKindLabel, default: [:]][result.reason ?? "no reason given", default: 0] +=
        1
    }
    return Tally.skipKindOrder.flatMap { kind in
      (counts[kind] ?? [:]).map { SkipReason(kind: kind, reason: $0.key, count: $0.value) }
        .sorted { ($1.count, $0.reason) < ($0.count, $1.reason) }
    }
  }
}
