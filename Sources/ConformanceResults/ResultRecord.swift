/// The result log: one JSON object per line, written by the test process while the suite runs.
///
/// Swift Testing's console, JUnit and event-stream output drop skip reasons, count a cancelled
/// argument case as passed and drop known issues, so every report is rendered from this log.
/// A line is either a case result (`"record": "case"`) or the description of the environment the
/// run saw (`"record": "environment"`, written once per test process).

/// The verdict for one conformance case.
public enum CaseStatus: String, Codable, Sendable, CaseIterable, Comparable {
  /// The kernel did what the expectation says.
  case pass = "PASS"
  /// The kernel did something else: the ABI changed or broke.
  case fail = "FAIL"
  /// The case could not run here; `reason` and `skipKind` say why.
  case skip = "SKIP"
  /// The kernel did what a documented kernel bug predicts on this version.
  case known = "KNOWN"

  /// Orders statuses from worst to best, so a report lists failures first.
  public static func < (lhs: CaseStatus, rhs: CaseStatus) -> Bool {
    lhs.severityRank < rhs.severityRank
  }

  private var severityRank: Int {
    switch self {
    case .fail: 0
    case .known: 1
    case .skip: 2
    case .pass: 3
    }
  }
}

/// Why a case was skipped.
public enum SkipKind: String, Codable, Sendable, CaseIterable {
  /// The kernel predates the feature (the probe agrees).
  case feature
  /// The environment prevents the case: seccomp, user namespaces disabled, no cgroup v2, ...
  case environment
  /// The caller lacks a privilege the case needs (for example CAP_SYS_ADMIN in the initial
  /// user namespace).
  case privilege
}

/// A documented kernel bug that explains an observed result on some kernels.
public struct KnownBug: Codable, Sendable, Hashable {
  /// One line: what the kernel gets wrong.
  public var title: String
  /// The commit that introduced it, or the report (lore link, bugzilla).
  public var report: String
  /// The commit that fixed it upstream, if any.
  public var fixedBy: String?
  /// Stable branches that took the fix, such as `"6.18.y (6.18.14)"`.
  public var stable: [String]

  public init(title: String, report: String, fixedBy: String? = nil, stable: [String] = []) {
    self.title = title
    self.report = report
    self.fixedBy = fixedBy
    self.stable = stable
  }
}

/// One conformance case's result.
public struct CaseResult: Codable, Sendable, Equatable {
  /// Always `"case"`.
  public var record: String = "case"
  /// Stable identifier from the fixture, such as `clone3.size.63`. Compare matches on it.
  public var id: String
  /// The area the case belongs to (the fixture file), such as `clone3.size`.
  public var area: String
  /// The case stated as the ABI's own sentence: "clone3 with size 63 fails with EINVAL".
  public var title: String
  public var status: CaseStatus
  /// What the expectation for this kernel says: `"EINVAL"`, `"success"`, `"E2BIG"`, ...
  public var expected: String?
  /// What the kernel did, in the same vocabulary; nil when the case did not run.
  public var observed: String?
  /// Why it was skipped, why it failed, or which bug it is (a KNOWN case).
  public var reason: String?
  /// Set only for SKIP.
  public var skipKind: SkipKind?
  /// The feature the case depends on, such as `clone3.set_tid`.
  public var feature: String?
  /// Set only for KNOWN.
  public var knownBug: KnownBug?
  /// `uname -r` of the kernel the case ran on.
  public var kernel: String
  /// Wall time of the case, for information only: never a pass/fail criterion.
  public var durationSeconds: Double

  public init(
    id: String, area: String, title: String, status: CaseStatus, expected: String? = nil,
    observed: String? = nil, reason: String? = nil, skipKind: SkipKind? = nil,
    feature: String? = nil, knownBug: KnownBug? = nil, kernel: String, durationSeconds: Double
  ) {
    self.id = id
    self.area = area
    self.title = title
    self.status = status
    self.expected = expected
    self.observed = observed
    self.reason = reason
    self.skipKind = skipKind
    self.feature = feature
    self.knownBug = knownBug
    self.kernel = kernel
    self.durationSeconds = durationSeconds
  }
}

/// What the test process saw of its environment, written once per test process.
public struct EnvironmentRecord: Codable, Sendable, Equatable {
  /// Always `"environment"`.
  public var record: String = "environment"
  /// `uname -r`.
  public var kernel: String
  /// `uname -m`.
  public var machine: String
  /// PID-namespace level the suite runs at (0 = the initial PID namespace).
  public var pidNamespaceLevel: Int?
  /// Features by name, each probed: `"clone3.set_tid": true`.
  public var features: [String: Bool]
  /// Conditions that limit the run, each one sentence: "user namespaces disabled
  /// (user.max_user_namespaces = 0)". Empty when nothing limits it.
  public var limitations: [String]

  public init(
    kernel: String, machine: String, pidNamespaceLevel: Int?, features: [String: Bool],
    limitations: [String]
  ) {
    self.kernel = kernel
    self.machine = machine
    self.pidNamespaceLevel = pidNamespaceLevel
    self.features = features
    self.limitations = limitations
  }
}
