import CKernelABI
import CLibcap
import Foundation
import Glibc
import KernelABI
import Testing

/// Who owns the PID namespaces a case acts on and where its caller sits, written once in the
/// table's `shapes` and built by the sandbox from `steps` (`kabi_body_capabilities`).
public struct CapabilityShape: Codable, Hashable, Sendable {
  /// One PID namespace the caller is in, and the user namespace that owns it.
  public struct PidLevel: Codable, Hashable, Sendable {
    public var ns: String
    public var owner: String
  }

  /// One sentence: who owns what, and what the caller can reach.
  public var about: String
  /// The caller's PID namespaces from the sandbox's outermost to its own active one: the case
  /// is BROKEN unless the caller reports exactly this many levels.
  public var pidLevels: [PidLevel]
  /// The user namespace of the caller's credentials.
  public var caller: String
  /// Each user namespace the shape makes, by name, with its parent; one not listed (U1, the
  /// sandbox's, or the initial one) is the top of this shape.
  public var userNamespaces: [String: String]?

  /// What NS_GET_USERNS on the caller's active PID namespace must answer (field `activeOwner`):
  /// 1 when the caller's user namespace owns it, 2 when one below the caller's does, else 0.
  var activeOwner: Int64 {
    guard var owner = pidLevels.last?.owner else { return 0 }
    if owner == caller { return 1 }
    while let parent = userNamespaces?[owner] {
      if parent == caller { return 2 }
      owner = parent
    }
    return 0
  }
  /// Sandbox levels (user + PID namespace pairs) below which the steps run; 1 when absent.
  public var sandboxLevels: Int?
  /// The sandbox's first level is a PID namespace in the suite's own user namespace: rows on
  /// this shape run only under `.needsInitialUserNamespace`.
  public var suiteUserNamespace: Bool?
  /// The steps that build the shape; each is a setup step, so its failure is BROKEN.
  public var steps: [CapabilityCall.Step]
}

/// One capability case: a shape, the capability sets the caller holds at the call, and the
/// call. Sets are libcap text (`cap_checkpoint_restore=ep`, `cap_sys_admin=p`, `=`), parsed
/// here and applied in the sandbox with raw capset; the caller reports the sets it then holds,
/// and a case whose caller did not hold exactly them is BROKEN: a case proves its premise.
public struct CapabilityCall: Codable, Hashable, Sendable {
  /// A program step as the table writes it: a `ProgramCall.Step`, plus the sets of a capset,
  /// side by side in one JSON object.
  public struct Step: Codable, Hashable, Sendable {
    public var step: ProgramCall.Step
    /// For `capset`: the sets to apply, as libcap text; the row's `caps` when absent.
    public var caps: String?

    init(_ op: String) { step = ProgramCall.Step(op) }

    private enum CodingKeys: String, CodingKey { case caps }

    public init(from decoder: any Decoder) throws {
      step = try ProgramCall.Step(from: decoder)
      caps = try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent(
        String.self, forKey: .caps)
    }

    public func encode(to encoder: any Encoder) throws {
      try step.encode(to: encoder)
      var container = encoder.container(keyedBy: CodingKeys.self)
      try container.encodeIfPresent(caps, forKey: .caps)
    }
  }

  /// clone3 with `struct clone_args` VER2 built here: flags and set_tid, innermost first.
  public struct Clone3: Codable, Hashable, Sendable {
    public var flags: CloneFlags?
    public var setTid: [Int32]?
  }

  /// The shape's name in the table's `shapes`.
  public var shape: String
  /// The caller's sets at the call, as libcap text; `=ep` (every capability, as a new user
  /// namespace gives its creator) when absent.
  public var caps: String?
  /// Capabilities raised into the ambient set after the capset.
  public var ambient: [String]?
  /// The steps after the shape; a `capset` among them applies the sets there, otherwise one is
  /// made right before them.
  public var steps: [Step]?
  /// The call under test as a clone3, after `steps`.
  public var clone3: Clone3?
  /// The shape, attached when the table loads (`CapabilityTable`).
  public var shapeDefinition: CapabilityShape?

  private enum CodingKeys: String, CodingKey {
    case shape, caps, ambient, steps, clone3
  }

  /// Operations that only prepare a case (build namespaces, keep descriptors, set capabilities):
  /// their failure is BROKEN wherever they stand, never the answer the row expects.
  static let preparingOperations: Set<String> = [
    "userns", "pidns", "enter", "hold", "save", "capset", "capget",
  ]

  /// The sets the caller must hold at the call, cut to the capabilities this kernel knows.
  public func statedSets() throws(CapabilityTextError) -> CapabilitySets {
    try CapabilitySets(text: caps ?? "=ep", ambient: ambient ?? []).knownToKernel
  }

  /// The program: the shape's steps, the capset, the row's steps and its clone3.
  ///
  /// - Parameters:
  ///   - cloneArgs: the address of the clone_args bytes for the clone3 step.
  ///   - protectedInodes: the suite's pid_max and PID namespace inodes, which `write` refuses.
  func program(cloneArgs: UInt, protectedInodes: (pidMax: UInt64, pidNamespace: UInt64)) throws
    -> ProgramCall
  {
    guard let shapeDefinition else {
      throw CaseBroken(step: "find the shape \"\(shape)\" in the table")
    }
    let rowSteps = steps ?? []
    var expanded = shapeDefinition.steps.map { written in
      var written = written
      written.step.setup = true  // a shape is the premise, never the answer
      return written
    }
    if !rowSteps.contains(where: { $0.step.op == "capset" }) { expanded.append(Step("capset")) }
    expanded += rowSteps
    var program: [ProgramCall.Step] = []
    for written in expanded {
      var step = written.step
      if Self.preparingOperations.contains(step.op) { step.setup = true }
      switch step.op {
      case "capset":
        let sets = try CapabilitySets(
          text: written.caps ?? caps ?? "=ep", ambient: written.caps == nil ? ambient ?? [] : [])
        step.raw = [sets.effective, sets.permitted, sets.inheritable, sets.ambient].map {
          Int64(bitPattern: $0)
        }
      case "write-fd":
        step.raw =
          (step.raw ?? []) + [
            Int64(bitPattern: protectedInodes.pidMax),
            Int64(bitPattern: protectedInodes.pidNamespace),
          ]
      default:
        break
      }
      program.append(step)
    }
    if clone3 != nil {
      program.append(
        ProgramCall.Step(
          "clone3",
          args: [Int64(bitPattern: UInt64(cloneArgs)), Int64(CloneArgsLayout.ver2.rawValue), 0]))
    }
    return ProgramCall(
      levels: shapeDefinition.sandboxLevels.map(SandboxDepth.levels),
      inSuiteUserNamespace: shapeDefinition.suiteUserNamespace, steps: program)
  }

  /// Builds the shape, sets the caller's capabilities, makes the call, and reads back what
  /// happened.
  ///
  /// - Throws: BROKEN when the caller did not sit where the shape says or did not hold exactly
  ///   the stated sets: the answer would not be to the question the row asks.
  public func observe() throws -> Observation {
    let stated = try statedSets()
    if shapeDefinition?.suiteUserNamespace == true {
      try InitialNamespaceCapabilities.requireInEffect(covering: stated)
    }
    if clone3 != nil { try Features.requireUsable("clone3", for: "the call under test") }

    let tids = clone3?.setTid ?? []
    let layout = CloneArgsLayout.ver2.rawValue
    let memory = UnsafeMutableRawBufferPointer.allocate(
      byteCount: layout + 4 * max(1, tids.count), alignment: 8)
    defer { memory.deallocate() }
    memory.initializeMemory(as: UInt8.self, repeating: 0)
    memory.storeBytes(
      of: clone3?.flags?.rawValue ?? 0, toByteOffset: CloneArgsLayout.Offset.flags,
      as: UInt64.self)
    memory.storeBytes(
      of: UInt64(SIGCHLD), toByteOffset: CloneArgsLayout.Offset.exitSignal, as: UInt64.self)
    if !tids.isEmpty {
      for (index, tid) in tids.enumerated() {
        memory.storeBytes(of: tid, toByteOffset: layout + 4 * index, as: Int32.self)
      }
      let address = UInt64(UInt(bitPattern: memory.baseAddress)) + UInt64(layout)
      memory.storeBytes(
        of: address, toByteOffset: CloneArgsLayout.Offset.setTid, as: UInt64.self)
      memory.storeBytes(
        of: UInt64(tids.count), toByteOffset: CloneArgsLayout.Offset.setTidSize, as: UInt64.self)
    }

    // Before 6.14 every PID namespace shares one pid_max table: held open for the whole run,
    // its inode stays this one, and `write` refuses a descriptor with it.
    let pidMax = open("/proc/sys/kernel/pid_max", O_RDONLY | O_CLOEXEC)
    defer { if pidMax >= 0 { close(pidMax) } }
    var pidMaxStatus = stat()
    var namespaceStatus = stat()
    guard pidMax >= 0, fstat(pidMax, &pidMaxStatus) == 0,
      stat("/proc/self/ns/pid", &namespaceStatus) == 0
    else {
      throw CaseBroken(
        step: "find the suite's own pid_max and PID namespace, never to be written",
        errno: Errno(rawValue: errno))
    }
    let program = try program(
      cloneArgs: UInt(bitPattern: memory.baseAddress),
      protectedInodes: (UInt64(pidMaxStatus.st_ino), UInt64(namespaceStatus.st_ino)))
    let run = try program.run()
    try run.requireSetUp()
    if let problem = premiseProblem(run, stated: stated) {
      throw CaseBroken(step: "stand on the case's premise: \(problem)")
    }
    return try program.observation(of: run)
  }

  /// Why the caller did not act from the stated premise, or nil.
  func premiseProblem(_ run: SandboxRun, stated: CapabilitySets) -> String? {
    if let shapeDefinition, run.levelsMade != shapeDefinition.pidLevels.count {
      return "the caller sits \(run.levelsMade) PID levels into the sandbox, the shape "
        + "\"\(shape)\" says \(shapeDefinition.pidLevels.count)"
    }
    func reported(_ name: String) -> UInt64? {
      run.reports(.field).last { $0.name == name }.map { UInt64(bitPattern: $0.value) }
    }
    if let shapeDefinition,
      reported("activeOwner") != UInt64(bitPattern: shapeDefinition.activeOwner)
    {
      let owner = shapeDefinition.pidLevels.last?.owner ?? "?"
      return "NS_GET_USERNS on the caller's PID namespace answered "
        + "\(reported("activeOwner").map(String.init) ?? "nothing") where the shape "
        + "\"\(shape)\" (owned by \(owner), caller in \(shapeDefinition.caller)) means "
        + "\(shapeDefinition.activeOwner) (1: the caller's own user namespace, 2: one below it, "
        + "0: another)"
    }
    guard let effective = reported("effective"), let permitted = reported("permitted"),
      let inheritable = reported("inheritable"), let ambient = reported("ambient")
    else { return "the caller did not report the capability sets it held" }
    let held = CapabilitySets(
      effective: effective, permitted: permitted, inheritable: inheritable, ambient: ambient)
    guard held == stated else {
      return "the caller held \(held), not the stated \(caps ?? "=ep") (\(stated))"
    }
    return nil
  }
}

/// The capability table: its shapes, and its rows with their shapes attached.
public enum CapabilityTable {
  public static let file = "capabilities.json"

  /// Decodes the whole table, shapes included, and checks every row's shape, capability text
  /// and program length.
  public static func load() throws -> FixtureFile<CapabilityCall> {
    var table = try Fixtures.load(file, as: CapabilityCall.self)
    struct Shapes: Decodable { var shapes: [String: CapabilityShape] }
    let shapes: [String: CapabilityShape]
    do {
      let data = try Data(contentsOf: Fixtures.directory.appendingPathComponent(file))
      shapes = try JSONDecoder().decode(Shapes.self, from: data).shapes
    } catch let error as DecodingError {
      throw FixtureError(file: file, message: FixtureError.describe(error))
    }
    table.cases = try table.cases.map { row in
      var row = row
      guard let shape = shapes[row.call.shape] else {
        throw FixtureError(file: file, message: "\(row.id): unknown shape \"\(row.call.shape)\"")
      }
      row.call.shapeDefinition = shape
      do {
        let program = try row.call.program(cloneArgs: 0, protectedInodes: (0, 0))
        if let problem = program.problem {
          throw FixtureError(file: file, message: "\(row.id): \(problem)")
        }
      } catch let error as CapabilityTextError {
        throw FixtureError(file: file, message: "\(row.id): \(error)")
      }
      return row
    }
    return table
  }

  /// The rows on shapes in the suite's own user namespace, or the others.
  public static func cases(inSuiteUserNamespace: Bool) throws -> [ConformanceCase<CapabilityCall>] {
    try load().cases.filter {
      ($0.call.shapeDefinition?.suiteUserNamespace ?? false) == inSuiteUserNamespace
    }
  }
}

/// A test whose cases need capabilities in the initial user namespace, not in one the sandbox
/// made: where the suite runs below it, or its effective set (read with libcap, never inferred
/// from uid 0) lacks one of them, every case is a SKIP that names them, logged as every
/// verdict is.
public struct InitialNamespaceCapabilities: TestTrait, TestScoping, Sendable {
  /// libcap names, such as `cap_sys_admin`.
  public var names: [String]

  @TaskLocal static var inEffect: InitialNamespaceCapabilities?

  public func provideScope(
    for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
  ) async throws {
    try await Self.$inEffect.withValue(self) { try await function() }
  }

  /// The capabilities as one set.
  var bits: UInt64 {
    names.reduce(0) { bits, name in
      var value: cap_value_t = 0
      guard cap_from_name(name, &value) == 0, (0..<64).contains(value) else { return bits }
      return bits | 1 << UInt64(value)
    }
  }

  /// Why the suite cannot act with them here, or nil.
  var unmet: String? {
    let list = names.map { $0.uppercased() }.joined(separator: ", ")
    guard Capabilities.inInitialUserNamespace else {
      return "needs \(list) in the initial user namespace: the suite runs in a user namespace "
        + "below it, whose root holds no capability there"
    }
    let missing = names.filter { name in
      var value: cap_value_t = 0
      return cap_from_name(name, &value) != 0 || !Capabilities.effective(Int32(value))
    }
    guard missing.isEmpty else {
      return "needs \(missing.map { $0.uppercased() }.joined(separator: ", ")) in the initial "
        + "user namespace; the suite's effective set is \(Capabilities.text)"
    }
    return nil
  }

  /// Throws the SKIP when the requirement is not met here, and BROKEN when the test states no
  /// requirement or one that does not cover CAP_SYS_ADMIN (the sandbox's first PID namespace)
  /// and every capability the case holds.
  static func requireInEffect(covering sets: CapabilitySets) throws {
    guard let requirement = inEffect else {
      throw CaseBroken(
        step: "run a case from the initial user namespace under its "
          + ".needsInitialUserNamespace trait, which this test does not state")
    }
    if let unmet = requirement.unmet { throw CaseSkip(.privilege, unmet) }
    let held = sets.effective | sets.permitted | sets.inheritable | sets.ambient
    var sysAdmin: cap_value_t = 0
    guard cap_from_name("cap_sys_admin", &sysAdmin) == 0,
      requirement.bits & (1 << UInt64(sysAdmin)) != 0, held & ~requirement.bits == 0
    else {
      throw CaseBroken(
        step: "state CAP_SYS_ADMIN and every capability the case holds in its "
          + ".needsInitialUserNamespace trait (it states \(requirement.names))")
    }
  }
}

extension Trait where Self == InitialNamespaceCapabilities {
  /// The cases need these capabilities (libcap names) in the initial user namespace.
  public static func needsInitialUserNamespace(_ names: String...) -> Self {
    InitialNamespaceCapabilities(names: names)
  }
}
