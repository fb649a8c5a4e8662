import CKernelABI
import ConformanceResults
import KernelABI
import Testing

import struct ConformanceResults.Expectation

/// What the kernel did in one case: the call's result and the named fields it reported.
public struct Observation: Sendable, Equatable, CustomStringConvertible {
  public enum Outcome: Sendable, Equatable {
    case success
    case failure(Errno)
    /// The kernel broke the contract in another way (a PID with no process behind it, a child
    /// that ran with other PIDs than returned). The text says how.
    case broken(String)
  }

  public var outcome: Outcome
  public var fields: Fields

  public init(_ outcome: Outcome, _ fields: Fields = [:]) {
    self.outcome = outcome
    self.fields = fields
  }

  /// The call failed with this errno.
  public static func failed(_ errno: Errno) -> Self { Self(.failure(errno)) }
  /// The call succeeded and reported these fields.
  public static func success(_ fields: Fields) -> Self { Self(.success, fields) }
  /// A new process reported back: its PID as its creator sees it, and its NSpid from the
  /// outermost level the sandbox made.
  public static func succeeded(pid: Int32, nspid: [Int32]?) -> Self {
    var fields: Fields = ["pid": .number(Int64(pid))]
    fields["nspid"] = nspid.map { .numbers($0.map(Int64.init)) }
    return success(fields)
  }
  /// The operation produced this value: a sysctl read, or a value the new process read.
  public static func produced(_ value: Int64) -> Self { success(["value": .number(value)]) }
  public static func broken(_ how: String) -> Self { Self(.broken(how)) }

  /// `EINVAL`, `success (pid 500)`, or `broken: …`, as the result log spells it.
  public var description: String {
    switch outcome {
    case .failure(let errno): ExpectedResult.failure(errno).spelled(with: fields)
    case .success: ExpectedResult.success.spelled(with: fields)
    case .broken(let how): "broken: \(how)"
    }
  }

  /// What the observation says in the vocabulary of expectations; nil for `broken`.
  public var result: ExpectedResult? {
    switch outcome {
    case .failure(let errno): .failure(errno)
    case .success: .success
    case .broken: nil
    }
  }

  /// Whether this observation is what `expectation` states: the same result, and every
  /// expected field observed with the same value.
  public func satisfies(_ expectation: Expectation) -> Bool {
    guard let result, result == expectation.result else { return false }
    return expectation.fields.areMatched(by: fields)
  }

  /// Like `description`, with the errno's number and message when no field comes with it.
  var detailed: String {
    if case .failure(let errno) = outcome, fields.isEmpty { return errno.description }
    return description
  }

  static func spell(_ pids: [Int32]) -> String { pids.map(String.init).joined(separator: " ") }
}

extension Expectation {
  /// Like `spelled`, with the errno's number and message: `EINVAL (22): Invalid argument`.
  var detailed: String { result == .success || !fields.isEmpty ? spelled : result.detailed }
}

extension ConformanceCase: CustomTestStringConvertible {
  /// The case's id and sentence, so a failing argument names its row.
  public var testDescription: String { "\(id): \(title)" }
}

/// A case that cannot run here; thrown by an observation to turn the case into a SKIP.
public struct CaseSkip: Error {
  public var kind: SkipKind
  public var reason: String

  public init(_ kind: SkipKind, _ reason: String) {
    self.kind = kind
    self.reason = reason
  }
}

/// Decides each case against its expectation, logs the verdict, and tells Swift Testing.
public enum Conformance {
  /// Runs `observe` for `row` unless the case cannot run here, then records PASS, FAIL, SKIP
  /// or KNOWN in the result log and reports a FAIL as an issue at `sourceLocation`.
  ///
  /// - Throws: the cancellation that marks a SKIP in Swift Testing.
  public static func check<Call>(
    _ row: ConformanceCase<Call>, sourceLocation: SourceLocation = #_sourceLocation,
    observe: () throws -> Observation
  ) throws {
    let start = ContinuousClock.now
    let (verdict, expected, observation) = decide(row, observe: observe)
    let logFailure = ResultLogWriter.append(
      CaseResult(
        id: row.id, area: row.area, title: row.title, status: verdict.status,
        expected: expected?.spelled, observed: observation?.description,
        reason: verdict.loggedReason, why: expected?.why, skipKind: verdict.skipKind,
        feature: row.feature, knownBug: verdict.knownBug, setupFailure: verdict.setupFailure,
        kernel: RunningKernel.release, durationSeconds: (ContinuousClock.now - start) / .seconds(1),
        knownElsewhere: verdict.status == .fail ? row.knownBugLines.nilIfEmpty : nil))
    if let logFailure {
      Issue.record(Comment(rawValue: logFailure), sourceLocation: sourceLocation)
    }
    try verdict.report(title: row.title, sourceLocation: sourceLocation)
  }

  /// Observes the case unless it cannot run here and judges the observation: the verdict,
  /// and what it rests on.
  static func decide<Call>(_ row: ConformanceCase<Call>, observe: () throws -> Observation)
    -> (Verdict, Expectation?, Observation?)
  {
    let verdict: Verdict
    var expected: Expectation?
    var observation: Observation?
    do {
      let expectation = try applicableExpectation(row)
      expected = expectation
      if let unavailable = TestEnvironment.sandboxUnavailable {
        throw CaseSkip(.environment, unavailable)
      }
      let observed = try observeOnWholeRuns(observe)
      observation = observed
      try requireOwnLimitsNotHit(observed, expected: expectation)
      verdict = judge(row, expected: expectation, observed: observed)
    } catch let skip as CaseSkip {
      verdict = Verdict(status: .skip, reason: skip.reason, skipKind: skip.kind)
    } catch let failure as FeatureMissing {
      verdict = Verdict(status: .fail, reason: failure.reason)
    } catch {
      let broken =
        switch error {
        case let broken as CaseBroken: broken
        // The sandbox could not start (clone of its first level): the kernel was never asked.
        case let errno as Errno:
          CaseBroken(step: "start the sandbox", errno: errno, syscall: "clone")
        // The test's own setup broke (mmap, pipe): not the kernel's verdict, and never a pass.
        default: CaseBroken(step: "set up the case in the test process: \(error)")
        }
      verdict = Verdict(status: .broken, reason: broken.description, setupFailure: broken.failure)
    }
    return (verdict, expected, observation)
  }

  /// Runs `observe` while watching every sandbox run it makes. A run that cannot be judged
  /// (`SandboxRun.damage`) makes the case BROKEN whatever `observe` made of it: a lost record
  /// reads like a kernel that made no process, which would be a FAIL, or like a missing
  /// feature, which would be a SKIP. The one place where a run's integrity is checked.
  static func observeOnWholeRuns(_ observe: () throws -> Observation) throws -> Observation {
    let watch = SandboxRunWatch()
    let observed = Result { try SandboxRunWatch.$current.withValue(watch) { try observe() } }
    if let damage = watch.damage { throw CaseBroken(damaged: damage) }
    return try observed.get()
  }

  /// The expectation for the running kernel; SKIP or FAIL when the case cannot apply.
  static func applicableExpectation<Call>(
    _ row: ConformanceCase<Call>, featureState: (String) -> FeatureState = Features.state,
    definitions: [String: FeatureDefinition<FeatureProbe>] = Features.definitions
  ) throws -> Expectation {
    let kernel = RunningKernel.version
    guard let expectation = row.expectation(for: kernel) else {
      let ranges = row.expect.map { $0.kernels?.description ?? "all" }.joined(separator: ", ")
      throw CaseSkip(
        .feature, "no expectation for kernel \(RunningKernel.release): stated for \(ranges)")
    }
    guard let feature = row.feature else { return expectation }
    switch featureState(feature) {
    case .present:
      return expectation
    case .blocked(let evidence):
      throw CaseSkip(.environment, "\(feature) is blocked: \(evidence)")
    case .absent(let evidence):
      let definition = definitions[feature]
      let removal = definition?.removedIn?.first {
        RunningKernel.release.contains($0.releaseContains)
      }
      if let removal {
        throw CaseSkip(.feature, "\(feature) is left out of this distro kernel: \(removal.why)")
      }
      guard let definition, let kernel, kernel >= definition.since else {
        let since = definition.map { " (since \($0.since))" } ?? ""
        throw CaseSkip(
          .feature, "kernel \(RunningKernel.release) lacks \(feature)\(since): \(evidence)")
      }
      throw FeatureMissing(
        reason: "\(feature) is missing on \(RunningKernel.release) although mainline has it "
          + "since \(definition.since): \(evidence)")
    }
  }

  /// An unexpected EAGAIN under a small RLIMIT_NPROC, or a small `pids.max` on the suite's
  /// cgroup or one above it, is the limit the caller set, not the kernel's answer to the case:
  /// the premise (room for one more process) did not hold. Small means parallel cases, each up
  /// to 70 processes, can reach it; the default limit (tens of thousands, from memory size)
  /// cannot, and there EAGAIN is judged like any errno. Where `pids.max` cannot be read, the
  /// premise is unknown: BROKEN, naming what could not be read, never a kernel FAIL.
  static func requireOwnLimitsNotHit(
    _ observed: Observation, expected: Expectation, nprocLimit: Int = kabi_nproc_limit(),
    pidsLimit: () throws(OwnCgroup.UnknownLimit) -> Int64? = OwnCgroup.pidsLimit
  ) throws {
    guard observed.outcome == .failure(.EAGAIN), expected.result != .failure(.EAGAIN) else {
      return
    }
    if nprocLimit >= 0, nprocLimit < 10_000 {
      throw CaseBroken(step: "the call under test (room for one more process)", errno: .EAGAIN)
    }
    let limit: Int64?
    do {
      limit = try pidsLimit()
    } catch {
      throw CaseBroken(
        step: "the call under test (room for one more process: pids.max unknown, \(error))",
        errno: .EAGAIN)
    }
    if let limit, limit < 10_000 {
      throw CaseBroken(
        step: "the call under test (room for one more process: pids.max \(limit))",
        errno: .EAGAIN)
    }
  }

  static func judge<Call>(
    _ row: ConformanceCase<Call>, expected: Expectation, observed: Observation
  ) -> Verdict {
    if observed.satisfies(expected) { return Verdict(status: .pass) }
    if let result = observed.result,
      let bug = row.knownBug(
        for: RunningKernel.version, observed: result, fields: observed.fields)
    {
      return Verdict(status: .known, reason: bug.title, knownBug: bug)
    }
    return Verdict(
      status: .fail, reason: "expected \(expected.detailed), observed \(observed.detailed)",
      isMismatch: true)
  }
}

/// A feature that a kernel of this version must have, but the probe did not find.
struct FeatureMissing: Error {
  var reason: String
}

struct Verdict {
  var status: CaseStatus
  var reason: String?
  var skipKind: SkipKind?
  var knownBug: KnownBug?
  var setupFailure: SetupFailure?
  /// Whether the reason only states expected against observed, which the record holds anyway.
  var isMismatch = false

  /// The reason the result log records: none for a plain mismatch, so every report states
  /// expected against observed once.
  var loggedReason: String? { isMismatch ? nil : reason }

  func report(title: String, sourceLocation: SourceLocation) throws {
    let issue = Comment(rawValue: "\(title): \(reason ?? "")")
    switch status {
    case .pass: break
    case .fail, .broken: Issue.record(issue, sourceLocation: sourceLocation)
    case .known:
      withKnownIssue(Comment(rawValue: knownBug?.report ?? "")) {
        Issue.record(issue, sourceLocation: sourceLocation)
      }
    case .skip:
      try Test.cancel(Comment(rawValue: reason ?? "skipped"), sourceLocation: sourceLocation)
    }
  }
}
