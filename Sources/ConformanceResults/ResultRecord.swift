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
  /// The case could not set up its own premise (a sandbox step, a helper process, a timeout):
  /// neither the kernel's pass nor its failure. LTP's TBROK, JUnit's `<error>`; `setupFailure`
  /// says which step failed, with which errno, and the likely cause.
  case broken = "BROKEN"

  /// Orders statuses from worst to best, so a report lists failures first.
  public static func < (lhs: CaseStatus, rhs: CaseStatus) -> Bool {
    lhs.severityRank < rhs.severityRank
  }

  private var severityRank: Int {
    switch self {
    case .fail: 0
    case .broken: 1
    case .known: 2
    case .skip: 3
    case .pass: 4
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

/// Why a case could not set up its premise: the step, its errno and the likely cause.
public struct SetupFailure: Codable, Sendable, Equatable {
  /// The step that failed, in words: `clone3 of the blocker process`, `sandbox level 2: write
  /// uid_map`, `wait for the sandbox`.
  public var step: String
  /// The errno name the step failed with (`EAGAIN`); nil for a timeout or a missing report.
  public var errno: String?
  /// The likely cause, one sentence: `RLIMIT_NPROC is 30 for uid 1000`, `seccomp refuses
  /// clone3 (EPERM)`, `the sandbox ran past its 10 s timeout (PIDNS_TIMEOUT_SCALE=1)`.
  public var cause: String?

  /// Creates a setup failure.
  public init(step: String, errno: String? = nil, cause: String? = nil) {
    self.step = step
    self.errno = errno
    self.cause = cause
  }

  /// `clone3 of the blocker process failed with EAGAIN: RLIMIT_NPROC is 30 for uid 1000`, the
  /// one line every report prints for a BROKEN case.
  public var summary: String {
    step + " failed" + (errno.map { " with " + $0 } ?? "") + (cause.map { ": " + $0 } ?? "")
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
  /// Why the expected result holds on this kernel, from the fixture row: the kernel function or
  /// the commit to look at when the case fails.
  public var why: String?
  /// Set only for SKIP.
  public var skipKind: SkipKind?
  /// The feature the case depends on, such as `clone3.set_tid`.
  public var feature: String?
  /// Set only for KNOWN.
  public var knownBug: KnownBug?
  /// Set only for FAIL: the bugs the fixture documents for this case on other kernels, one line
  /// each (`title (report), on 6.1...6.7: EEXIST`), so a reader sees whether the failure is a
  /// known bug reaching another kernel.
  public var knownElsewhere: [String]?
  /// Set only for BROKEN.
  public var setupFailure: SetupFailure?
  /// `uname -r` of the kernel the case ran on.
  public var kernel: String
  /// Wall time of the case, for information only: never a pass/fail criterion.
  public var durationSeconds: Double

  public init(
    id: String, area: String, title: String, status: CaseStatus, expected: String? = nil,
    observed: String? = nil, reason: String? = nil, why: String? = nil,
    skipKind: SkipKind? = nil, feature: String? = nil, knownBug: KnownBug? = nil,
    setupFailure: SetupFailure? = nil, kernel: String, durationSeconds: Double,
    knownElsewhere: [String]? = nil
  ) {
    self.id = id
    self.area = area
    self.title = title
    self.status = status
    self.expected = expected
    self.observed = observed
    self.reason = reason
    self.why = why
    self.skipKind = skipKind
    self.feature = feature
    self.knownBug = knownBug
    self.setupFailure = setupFailure
    self.kernel = kernel
    self.durationSeconds = durationSeconds
    self.knownElsewhere = knownElsewhere
  }
}

/// What the test process saw of its environment, written once per test process.
public struct EnvironmentRecord: Codable, Sendable, Equatable {
  /// Always `"environment"`.
  public var record: String = "environment"
  /// `uname -r`.
  public var kernel: String
  /// The version expectations were judged against, where it says more than `kernel`: Debian's
  /// older kernels name their stable version only in `uname -v` (`5.10.0-32-cloud-amd64` is
  /// `5.10.223`). nil in logs from before it was recorded.
  public var kernelVersion: String?
  /// `uname -m`.
  public var machine: String
  /// PID-namespace level the suite runs at (0 = the initial PID namespace).
  public var pidNamespaceLevel: Int?
  /// Features by name, each probed: `"clone3.set_tid": true`.
  public var features: [String: Bool]
  /// Conditions that limit the run, each one sentence: "user namespaces disabled
  /// (user.max_user_namespaces = 0)". Empty when nothing limits it.
  public var limitations: [String]
  /// How many cases each area defines (`"clone3.size": 64`), counted from the fixtures before any
  /// case ran: a log with fewer results for an area did not complete. nil in logs from before
  /// the count was recorded.
  public var expectedCases: [String: Int]?
  /// Fixture files that could not be loaded, `"ns-last-pid.json: .cases[3].call: ..."` each:
  /// their cases are missing from the run, which therefore did not complete.
  public var fixtureErrors: [String]?
  /// How the run was narrowed (`"cases: clone3.size.63"`, `"filter: SetTid"`), or nil for a
  /// full run: then an area with no result at all was not selected rather than lost.
  public var selection: String?
  /// The case selectors the test process applied itself (`$PIDNS_CASES`): then `expectedCases`
  /// counts only the selected cases, so every area is judged as in a full run. nil when the run
  /// was not narrowed, or was narrowed by test name, where an area without results may simply
  /// not have been selected.
  public var selectedCases: [String]?
  /// The suite's revision (`git describe`), when the caller stated it (`$PIDNS_REVISION`).
  public var suiteRevision: String?
  /// Who ran the suite, one phrase: `root in the initial user namespace`, `uid 0 inside a user
  /// namespace`, `unprivileged (uid 1000)`, with the capabilities that matter.
  public var setting: String?
  /// How the suite's PID-namespace level was measured, and whether the kernel's own answer
  /// agrees, one sentence.
  public var pidNamespaceLevelEvidence: String?
  /// The factor every sandbox timeout was multiplied by (`$PIDNS_TIMEOUT_SCALE`).
  public var timeoutScale: Double?
  /// Why each feature that is not present is missing, the probe's evidence:
  /// `"pid_namespace.pid_max": "/proc/sys/kernel/pid_max is the same inode ..."`.
  public var featureEvidence: [String: String]?
  /// The kernel's and the machine's settings that decide skips and setup failures, by name:
  /// `"user.max_user_namespaces": "63487"`, `"RLIMIT_NPROC": "unlimited"`, `"seccomp": "0"`.
  public var facts: [String: String]?

  public init(
    kernel: String, machine: String, pidNamespaceLevel: Int?, features: [String: Bool],
    limitations: [String], expectedCases: [String: Int]? = nil, fixtureErrors: [String]? = nil,
    selection: String? = nil, pidNamespaceLevelEvidence: String? = nil,
    timeoutScale: Double? = nil, selectedCases: [String]? = nil, suiteRevision: String? = nil,
    setting: String? = nil, featureEvidence: [String: String]? = nil,
    facts: [String: String]? = nil, kernelVersion: String? = nil
  ) {
    self.kernel = kernel
    self.kernelVersion = kernelVersion
    self.machine = machine
    self.pidNamespaceLevel = pidNamespaceLevel
    self.features = features
    self.limitations = limitations
    self.expectedCases = expectedCases
    self.fixtureErrors = fixtureErrors
    self.selection = selection
    self.pidNamespaceLevelEvidence = pidNamespaceLevelEvidence
    self.timeoutScale = timeoutScale
    self.selectedCases = selectedCases
    self.suiteRevision = suiteRevision
    self.setting = setting
    self.featureEvidence = featureEvidence
    self.facts = facts
  }
}
