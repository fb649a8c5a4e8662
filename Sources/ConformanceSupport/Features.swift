import CKernelABI
import Foundation
import Glibc
import KernelABI
import Synchronization

/// A kernel feature a case depends on, as `Fixtures/features.json` describes it.
public struct FeatureDefinition: Decodable, Sendable {
  /// The name cases use, such as `clone3.set_tid`.
  public var name: String
  /// The mainline release that added it: a kernel at or past it that lacks the feature fails.
  public var since: KernelVersion
  /// What the feature is, in one line.
  public var what: String
  /// How the suite finds out whether the running kernel has it.
  public var probe: FeatureProbe
  /// Distro kernels known to build without the feature, where its absence is a SKIP.
  public var removedIn: [DistroRemoval]?

  private enum CodingKeys: String, CodingKey { case name, since, what, probe, removedIn }
}

extension FeatureDefinition {
  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    name = try container.decode(String.self, forKey: .name)
    since = try container.decode(KernelVersion.self, forKey: .since)
    what = try container.decode(String.self, forKey: .what)
    removedIn = try container.decodeIfPresent([DistroRemoval].self, forKey: .removedIn)
    do {
      probe = try container.decode(FeatureProbe.self, forKey: .probe)
    } catch {
      let problem = (error as? DecodingError).map(FixtureError.describe) ?? "\(error)"
      throw FeatureProbe.Invalid(description: "feature \"\(name)\": probe: \(problem)")
    }
  }
}

/// A distro kernel that leaves a feature out on purpose.
public struct DistroRemoval: Codable, Sendable {
  /// A substring of `uname -r`, such as `+deb12-rt`.
  public var releaseContains: String
  public var why: String
}

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
  /// `Fixtures/features.json`; empty when it cannot be read, which the result log records as a
  /// fixture error (`FixtureCatalog`), so the run cannot look complete.
  public static let definitions: [String: FeatureDefinition] = {
    do {
      return try loadDefinitions()
    } catch {
      return [:]  // FixtureCatalog.expectedCases records the error for the run.
    }
  }()

  /// Reads `Fixtures/features.json`, throwing what is wrong with it.
  public static func loadDefinitions() throws -> [String: FeatureDefinition] {
    let name = "features.json"
    return try decodeDefinitions(
      Data(contentsOf: Fixtures.directory.appendingPathComponent(name)), file: name)
  }

  /// Decodes a feature table; a malformed entry or probe is an error naming the feature.
  public static func decodeDefinitions(_ data: Data, file: String) throws -> [String:
    FeatureDefinition]
  {
    struct File: Decodable { var features: [FeatureDefinition] }
    do {
      let features = try JSONDecoder().decode(File.self, from: data).features
      return try Dictionary(features.map { ($0.name, $0) }) { first, _ in
        throw FeatureProbe.Invalid(description: "feature \"\(first.name)\" is listed twice")
      }
    } catch let error as DecodingError {
      throw FixtureError(file: file, message: FixtureError.describe(error))
    } catch let error as FeatureProbe.Invalid {
      throw FixtureError(file: file, message: error.description)
    }
  }

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
