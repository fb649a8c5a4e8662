import CKernelABI
import KernelABI

extension ProgramCall: FixtureCall {
  /// A named list of steps a table defines once in its header (`preludes`) and a row's call
  /// runs first (`"use": "name"`): the namespaces a case stands in, with the premises the
  /// caller must report there. Every step of a prelude is setup, so its failure is BROKEN.
  ///
  /// ```json
  /// "preludes": {"outer-ancestor": {"about": "…", "levels": 2,
  ///   "premises": {"pidLevels": 2, "activeOwner": 1}, "steps": []}}
  /// ```
  public struct Prelude: Decodable, Hashable, Sendable {
    /// One sentence: who owns what, and what the caller can reach.
    public var about: String
    /// Sandbox levels, when the row does not say (`ProgramCall.levels`).
    public var levels: SandboxDepth?
    /// The first level is a PID namespace in the suite's own user namespace: such rows run
    /// only under `.needsInitialUserNamespace` (`Fixtures.programs(_:inSuiteUserNamespace:)`).
    public var inSuiteUserNamespace: Bool?
    public var steps: [ProgramCall.Step]
    /// What the caller must report, or the case is BROKEN: a FIELD record's last value by
    /// name, and `pidLevels`, how many PID namespaces deep into the sandbox it sits.
    public var premises: [String: Int64]?

    private enum CodingKeys: String, CodingKey, CaseIterable {
      case about, levels, inSuiteUserNamespace, steps, premises
    }

    /// A misspelt key is an error: without `premises` the case would be judged from whatever
    /// namespace it ended up in.
    public init(from decoder: any Decoder) throws {
      try decoder.rejectUnknownKeys(CodingKeys.allCases.map(\.rawValue))
      let container = try decoder.container(keyedBy: CodingKeys.self)
      about = try container.decode(String.self, forKey: .about)
      levels = try container.decodeIfPresent(SandboxDepth.self, forKey: .levels)
      inSuiteUserNamespace = try container.decodeIfPresent(Bool.self, forKey: .inSuiteUserNamespace)
      steps = try container.decode([ProgramCall.Step].self, forKey: .steps)
      premises = try container.decodeIfPresent([String: Int64].self, forKey: .premises)
    }
  }

  /// The call with its prelude's steps (as setup) before its own, and the prelude's levels.
  func using(_ preludes: [String: Prelude]) throws(ProgramError) -> ProgramCall {
    guard let use else { return self }
    guard let found = preludes[use] else {
      throw ProgramError("no prelude \"\(use)\" (the table has: \(preludes.keys.sorted()))")
    }
    var call = self
    call.prelude = found
    call.steps = found.steps + steps
    for index in found.steps.indices { call.steps[index].setup = true }
    call.levels = levels ?? found.levels
    call.inSuiteUserNamespace = inSuiteUserNamespace ?? found.inSuiteUserNamespace
    return call
  }

  /// The capability sets each step with a CAPS argument states (libcap text, with the
  /// ambient set of its CAP_NAMES argument), by the step's record number.
  func statedSets() throws(ProgramError) -> [Int32: CapabilitySets] {
    var stated: [Int32: CapabilitySets] = [:]
    for (index, step) in steps.enumerated() {
      guard let parameters = Operation.registered[step.op]?.parameters,
        let caps = parameters.first(where: { $0.kind == KABI_ARG_CAPS }),
        let text = step.args[caps.name]
      else { continue }
      let ambient = parameters.first { $0.kind == KABI_ARG_CAP_NAMES }.flatMap {
        step.args[$0.name]
      }
      let what = "\(step.op) \(caps.name)"
      stated[Self.record(ofStep: index)] = try ProgramError.naming(what) {
        try CapabilitySets(
          text: text.decode(String.self, what: what),
          ambient: ambient.map { try Self.capabilityNames($0) } ?? []
        ).knownToKernel
      }
    }
    return stated
  }

  /// libcap names: one name, or a list of them.
  static func capabilityNames(_ value: Argument) throws(ProgramError) -> [String] {
    if case .text(let name) = value { return [name] }
    return try value.decode([String].self, what: "capability names")
  }

  /// Why the caller did not act from the premise the call states, or nil: a step with a CAPS
  /// argument must report it then held exactly those sets, and the prelude's premises must
  /// hold.
  func premiseProblem(in run: SandboxRun) -> String? {
    let fields = run.reports(.field)
    func reported(_ name: String, step: Int32? = nil) -> Int64? {
      fields.last { $0.name == name && (step == nil || $0.step == step) }?.value
    }
    let ran = Set(run.reports(.call).filter { $0.value >= 0 }.map(\.step))
    let statedByStep: [Int32: CapabilitySets]
    do {
      statedByStep = try statedSets()
    } catch {
      return "the stated capability sets cannot be read: \(error)"
    }
    for (step, stated) in statedByStep where ran.contains(step) {
      let sets = ["effective", "permitted", "inheritable", "ambient"].compactMap {
        reported($0, step: step).map { UInt64(bitPattern: $0) }
      }
      guard sets.count == 4 else { return "the caller did not report the capability sets it held" }
      let held = CapabilitySets(
        effective: sets[0], permitted: sets[1], inheritable: sets[2], ambient: sets[3])
      guard held == stated else {
        return
          "the caller held \(held), not the stated \(self.step(ofRecord: step)?.args["caps"].map { "\($0)" } ?? "?") "
          + "(\(stated))"
      }
    }
    for (name, required) in (prelude?.premises ?? [:]).sorted(by: { $0.key < $1.key }) {
      let value = name == "pidLevels" ? Int64(run.levelsMade) : reported(name)
      guard value != required else { continue }
      return "the caller reported \(name) \(value.map(String.init) ?? "nothing"), where the "
        + "prelude \"\(use ?? "?")\" needs \(required): \(prelude?.about ?? "")"
    }
    return nil
  }
}

extension Fixtures {
  /// The cases of a table of programs whose call runs in the suite's own user namespace (its
  /// prelude says `inSuiteUserNamespace`), or the others: the former need a test with the
  /// `.needsInitialUserNamespace` trait.
  public static func programs(_ file: String, inSuiteUserNamespace: Bool) throws
    -> [ConformanceCase<ProgramCall>]
  {
    try load(file).cases.filter {
      ($0.call.inSuiteUserNamespace ?? false) == inSuiteUserNamespace
    }
  }
}
