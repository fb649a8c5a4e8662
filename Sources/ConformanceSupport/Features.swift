import KernelABI
import Synchronization

/// What a probe found.
public enum FeatureState: Sendable, Equatable {
  case present
  /// The kernel lacks it: the probe's evidence, such as "clone3 answered ENOSYS".
  case absent(String)
  /// Something outside the kernel hides it (seccomp, a container runtime): the evidence.
  case blocked(String)
}

/// The feature table and the probes behind it; each probe runs once per process.
public enum Features {
  /// `Fixtures/features.json`, or what is wrong with it, which the result log records as a
  /// fixture error (`FixtureCatalog`), so the run cannot look complete.
  public static let table = Result {
    try FeatureDefinition<FeatureProbe>.table(in: Fixtures.directory)
  }

  /// The features by name; none when the table cannot be read (`table` says why).
  public static let definitions: [String: FeatureDefinition<FeatureProbe>] = {
    guard case .success(let definitions) = table else { return [:] }
    return definitions
  }()

  /// The probed state of `name`; a name the table lacks is reported absent, with that reason.
  public static func state(_ name: String) -> FeatureState {
    outcome(name).state
  }

  /// The errno a syscall probe answered, when it failed: what a refused syscall answers.
  public static func answer(_ name: String) -> Errno? {
    outcome(name).answer
  }

  private static func outcome(_ name: String) -> FeatureProbe.Outcome {
    cache.withLock { cache in
      if let known = cache[name] { return known }
      let outcome =
        definitions[name]?.probe.run()
        ?? FeatureProbe.Outcome(state: .absent("no feature \(name) in features.json"))
      cache[name] = outcome
      return outcome
    }
  }

  /// SKIPs the case unless `name` is present: a case may need more than its own feature.
  public static func requireUsable(_ name: String, for purpose: String) throws {
    switch state(name) {
    case .present: return
    case .blocked(let evidence):
      throw CaseSkip(.environment, "\(purpose) needs \(name), which is refused here: \(evidence)")
    case .absent(let evidence):
      throw CaseSkip(.feature, "\(purpose) needs \(name), which this kernel lacks: \(evidence)")
    }
  }

  /// Every probed feature, for the environment record.
  public static func summary() -> [String: Bool] {
    Dictionary(uniqueKeysWithValues: definitions.keys.map { ($0, state($0) == .present) })
  }

  /// The probe's evidence for every feature that is not present.
  public static func evidence() -> [String: String] {
    definitions.keys.reduce(into: [:]) { evidence, name in
      switch state(name) {
      case .present: break
      case .absent(let why): evidence[name] = "absent: \(why)"
      case .blocked(let why): evidence[name] = "blocked: \(why)"
      }
    }
  }

  private static let cache = Mutex<[String: FeatureProbe.Outcome]>([:])
}
