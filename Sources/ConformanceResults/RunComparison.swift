/// The differences between two runs of the suite, such as before and after a kernel upgrade.
public struct RunComparison: Sendable {
  /// How a case differs between the two runs.
  public enum Transition: String, Sendable, CaseIterable {
    /// PASS or KNOWN became FAIL, or PASS became KNOWN.
    case regressed
    /// PASS or KNOWN became SKIP or BROKEN: the kernel is no longer checked there, so a
    /// regression could hide behind it.
    case lostCoverage
    /// FAIL became PASS.
    case fixed
    /// KNOWN became PASS: the kernel bug is fixed.
    case knownBugFixed
    /// FAIL became KNOWN: the failure is now explained by a documented bug.
    case becameKnown
    /// SKIP or BROKEN became PASS, FAIL or KNOWN.
    case newlyRunnable
    /// FAIL or BROKEN became SKIP.
    case newlySkipped
    /// FAIL or SKIP became BROKEN.
    case newlyBroken
    /// The status stayed but the expected or observed result changed, such as EINVAL → EPERM.
    case resultChanged
    /// The case is only in the later run.
    case added
    /// The case is only in the earlier run.
    case vanished
  }

  /// One case that differs.
  public struct CaseChange: Sendable, Equatable {
    /// The case id both runs share.
    public var id: String
    /// The kind of difference.
    public var transition: Transition
    /// The case in the earlier run; nil when it was added.
    public var before: CaseResult?
    /// The case in the later run; nil when it vanished.
    public var after: CaseResult?

    /// Whether the change counts as a regression: the case fails now and did not before, a PASS
    /// became KNOWN, a case that ran to a verdict no longer does (lost coverage), or a case
    /// that did not skip before has no result now (a lost result looks clean otherwise).
    public var isRegression: Bool {
      switch (before?.status, after?.status) {
      case (.skip, nil): false
      case (_, nil): true
      case (.fail, _): false
      case (_, .fail), (.pass, .known): true
      case (.pass, .skip), (.known, .skip), (.pass, .broken), (.known, .broken): true
      default: false
      }
    }
  }

  /// A probed feature whose value differs between the two runs.
  public struct FeatureChange: Sendable, Equatable {
    /// The feature name, such as `clone3.set_tid`.
    public var name: String
    /// Whether the later run has the feature.
    public var present: Bool
    /// A vanished feature counts as a regression unless a case needing it still ran.
    public var isRegression: Bool
  }

  /// The kernel of each run.
  public var kernels: (before: String, after: String)
  /// The cases that differ: those in the later run in its order, then the vanished ones.
  public var changes: [CaseChange]
  /// The features that appeared or vanished, by name; empty if either run lacks an environment.
  public var featureChanges: [FeatureChange]
  /// Whether the earlier run holds every result it should (see `Completeness`).
  public var beforeCompleteness: Completeness
  /// Whether the later run holds every result it should.
  public var afterCompleteness: Completeness

  /// Compares two runs by case id and by probed feature.
  public init(before: ResultLog, after: ResultLog) {
    kernels = (before.kernel, after.kernel)
    beforeCompleteness = before.completeness()
    afterCompleteness = after.completeness()
    let earlier = Dictionary(before.cases.map { ($0.id, $0) }, uniquingKeysWith: { $1 })
    let later = Set(after.cases.map(\.id))
    changes =
      after.cases.compactMap { result in
        guard let old = earlier[result.id] else {
          return CaseChange(id: result.id, transition: .added, before: nil, after: result)
        }
        return Self.transition(from: old, to: result).map {
          CaseChange(id: result.id, transition: $0, before: old, after: result)
        }
      }
      + before.cases.filter { !later.contains($0.id) }.map {
        CaseChange(id: $0.id, transition: .vanished, before: $0, after: nil)
      }

    let oldFeatures = before.environment?.features ?? [:]
    let newFeatures = after.environment?.features ?? [:]
    featureChanges = newFeatures.keys.sorted().compactMap { name in
      guard let present = newFeatures[name], let was = oldFeatures[name], was != present else {
        return nil
      }
      let stillRan = after.cases.contains { $0.feature == name && $0.status != .skip }
      return FeatureChange(name: name, present: present, isRegression: !present && !stillRan)
    }
  }

  /// Whether the later run did not complete while the earlier one did: whatever its missing
  /// results hold is unknown, so a comparison cannot call it clean.
  public var laterRunIsPartial: Bool {
    !afterCompleteness.isComplete && beforeCompleteness.isComplete
  }

  /// Whether the later run is worse: a case fails now that did not, a PASS became KNOWN, a case
  /// lost coverage or vanished, a feature vanished, or the later run did not complete.
  public var isRegression: Bool {
    changes.contains(where: \.isRegression) || featureChanges.contains(where: \.isRegression)
      || laterRunIsPartial
  }

  /// The changes of one kind, in `changes` order.
  public func changes(_ transition: Transition) -> [CaseChange] {
    changes.filter { $0.transition == transition }
  }

  /// Classifies a case present in both runs; nil when nothing worth reporting changed.
  private static func transition(from old: CaseResult, to new: CaseResult) -> Transition? {
    switch (old.status, new.status) {
    case (.pass, .fail), (.known, .fail), (.pass, .known): .regressed
    case (.pass, .skip), (.known, .skip), (.pass, .broken), (.known, .broken): .lostCoverage
    case (.fail, .pass): .fixed
    case (.known, .pass): .knownBugFixed
    case (.fail, .known): .becameKnown
    case (.skip, .skip), (.broken, .broken): nil
    case (_, .skip): .newlySkipped
    case (_, .broken): .newlyBroken
    case (.skip, _), (.broken, _): .newlyRunnable
    default:
      old.expected != new.expected || old.observed != new.observed ? .resultChanged : nil
    }
  }
}
