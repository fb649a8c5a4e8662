import CKernelABI
import Foundation
import Glibc
import KernelABI

/// A row's call as a small program: labelled steps, each an operation by name with named
/// arguments, which the one compiler here turns into `struct kabi_program` for the sandbox's
/// interpreter. The operations and their parameters come from the C registry (`KABI_OP`), so a
/// new area adds an operation in its C file and rows in its table, and no Swift.
///
/// ```json
/// {"label": "child", "op": "clone3", "args": {"clone_args": {"flags": ["CLONE_PIDFD"]}}},
/// {"op": "release", "args": {"pid": "@blocker", "fd": "@blocker.release"}, "setup": true}
/// ```
///
/// A number argument may name what an earlier step returned (`"@label"`) or kept
/// (`"@label.name"`); the sandbox resolves it when the step runs.
public struct ProgramCall: Decodable, Hashable, Sendable {
  public struct Step: Decodable, Hashable, Sendable {
    /// The name later steps refer to this one by.
    public var label: String?
    /// The operation, as its C file registers it (`parent`, `clone3`).
    public var op: String
    /// Arguments by the operation's parameter names.
    public var args: [String: Argument]
    /// A step that prepares the case: its failure is BROKEN, not the case's answer.
    public var setup: Bool?
    /// The program goes on after this step fails (to release what blocked it and retry).
    public var goOn: Bool?
    /// A success reports what this step returned as this field.
    public var field: String?

    public init(
      _ op: String, label: String? = nil, args: [String: Argument] = [:], setup: Bool? = nil,
      goOn: Bool? = nil, field: String? = nil
    ) {
      self.op = op
      self.label = label
      self.args = args
      self.setup = setup
      self.goOn = goOn
      self.field = field
    }

    private enum CodingKeys: String, CodingKey, CaseIterable {
      case label, op, args, setup, goOn, field
    }

    public init(from decoder: any Decoder) throws {
      try decoder.rejectUnknownKeys(CodingKeys.allCases.map(\.rawValue))
      let container = try decoder.container(keyedBy: CodingKeys.self)
      op = try container.decode(String.self, forKey: .op)
      label = try container.decodeIfPresent(String.self, forKey: .label)
      setup = try container.decodeIfPresent(Bool.self, forKey: .setup)
      goOn = try container.decodeIfPresent(Bool.self, forKey: .goOn)
      field = try container.decodeIfPresent(String.self, forKey: .field)
      args = try container.decodeIfPresent([String: Argument].self, forKey: .args) ?? [:]
    }

    /// The step in words, for a setup failure: `write /proc/sys/kernel/pid_max`.
    var words: String {
      if case .text(let path)? = args["path"] { return "\(op) \(path)" }
      return label.map { "\(op) (\($0))" } ?? op
    }
  }

  /// Sandbox levels (each a user + PID namespace pair): a number, or `"deepest"`; 1 when absent.
  public var levels: SandboxDepth?
  /// The first level is a PID namespace in the suite's own user namespace, which needs
  /// CAP_SYS_ADMIN there (`SandboxSpec.inCallersUserNamespace`).
  public var inSuiteUserNamespace: Bool?
  /// The table's prelude whose steps run first (`Prelude`); `prelude` once the table loaded.
  public var use: String?
  public internal(set) var prelude: Prelude?
  /// Map uid 0 at every level (default); false leaves the program the overflow uid.
  public var mapRoot: Bool?
  public var steps: [Step]

  public init(
    levels: SandboxDepth? = nil, inSuiteUserNamespace: Bool? = nil, mapRoot: Bool? = nil,
    steps: [Step]
  ) {
    self.levels = levels
    self.inSuiteUserNamespace = inSuiteUserNamespace
    self.mapRoot = mapRoot
    self.steps = steps
  }

  private enum CodingKeys: String, CodingKey, CaseIterable {
    case levels, inSuiteUserNamespace, use, mapRoot, steps
  }

  public init(from decoder: any Decoder) throws {
    try decoder.rejectUnknownKeys(CodingKeys.allCases.map(\.rawValue))
    let container = try decoder.container(keyedBy: CodingKeys.self)
    levels = try container.decodeIfPresent(SandboxDepth.self, forKey: .levels)
    inSuiteUserNamespace = try container.decodeIfPresent(Bool.self, forKey: .inSuiteUserNamespace)
    use = try container.decodeIfPresent(String.self, forKey: .use)
    mapRoot = try container.decodeIfPresent(Bool.self, forKey: .mapRoot)
    steps = try container.decode([Step].self, forKey: .steps)
  }
}

/// A named argument as a table writes it: a number, a word, a list or an object, read by the
/// kind of the parameter it fills.
public enum Argument: Codable, Hashable, Sendable, CustomStringConvertible {
  case number(Int64)
  case text(String)
  case list([Argument])
  case object([String: Argument])
  case flag(Bool)

  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    switch JSONTree.value(for: decoder) {
    case .number(let number): self = .number(number)
    case .text(let text): self = .text(text)
    case .flag(let bool): self = .flag(bool)
    case .list: self = .list(try container.decode([Argument].self))
    case .object: self = .object(try container.decode([String: Argument].self))
    case .other, nil: self = try Self.guessing(container)
    }
  }

  /// Outside a fixture's tree: the likeliest shapes first, as each wrong guess throws.
  private static func guessing(_ container: any SingleValueDecodingContainer) throws -> Argument {
    if let number = try? container.decode(Int64.self) { return .number(number) }
    if let text = try? container.decode(String.self) { return .text(text) }
    if let list = try? container.decode([Argument].self) { return .list(list) }
    if let object = try? container.decode([String: Argument].self) { return .object(object) }
    return .flag(try container.decode(Bool.self))
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    switch self {
    case .number(let number): try container.encode(number)
    case .text(let text): try container.encode(text)
    case .list(let list): try container.encode(list)
    case .object(let object): try container.encode(object)
    case .flag(let bool): try container.encode(bool)
    }
  }

  public var description: String {
    switch self {
    case .number(let number): "\(number)"
    case .text(let text): "\"\(text)\""
    case .list(let list): "[" + list.map(\.description).joined(separator: ", ") + "]"
    case .object(let object):
      "{"
        + object.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
        .joined(separator: ", ") + "}"
    case .flag(let bool): "\(bool)"
    }
  }

  /// Decodes the argument as `type`, with `what` naming it in an error: a number, a word or
  /// clone flags directly (most arguments are one), anything else (a `struct clone_args`)
  /// through JSON.
  func decode<Value: Decodable>(_ type: Value.Type, what: String) throws(ProgramError) -> Value {
    if let value = direct(type) { return value }
    do {
      return try JSONDecoder().decode(Value.self, from: JSONEncoder().encode(self))
    } catch {
      throw ProgramError("\(what): \(self) is not \(Value.self) (\(error))")
    }
  }

  /// The argument as `type` where it already has that shape; nil leaves it to JSON (and its
  /// error message).
  private func direct<Value>(_ type: Value.Type) -> Value? {
    switch self {
    case .number(let number): return number as? Value
    case .text(let text):
      return text as? Value
        ?? (Value.self == CloneFlags.self ? CloneFlags(name: text) as? Value : nil)
    case .list(let list) where Value.self == CloneFlags.self:
      let flags = list.compactMap {
        if case .text(let name) = $0 { CloneFlags(name: name) } else { nil }
      }
      return flags.count == list.count ? CloneFlags(flags) as? Value : nil
    default: return nil
    }
  }
}

/// Why a table's program cannot be compiled: bad input, named.
public struct ProgramError: Error, CustomStringConvertible {
  public var description: String
  init(_ description: String) { self.description = description }

  /// What `body` returns; an error it throws becomes one that starts with `what` (a
  /// `ProgramError` stays as it is).
  static func naming<Value>(_ what: String, _ body: () throws -> Value) throws(ProgramError)
    -> Value
  {
    do { return try body() } catch let error as ProgramError { throw error } catch {
      throw ProgramError("\(what): \(error)")
    }
  }
}

/// An operation the sandbox's interpreter knows, as its C file registered it.
public struct Operation: Sendable {
  public struct Parameter: Sendable {
    public var name: String
    public var kind: kabi_arg_kind
    public var slot: Int
    public var absent: Int64
    /// Another syscall a step makes when it gives the argument (`pidfd-child`'s `signal`).
    public var syscall: String?
  }

  public var name: String
  /// The syscall whose refusal would explain a failure of the operation.
  public var syscall: String?
  public var parameters: [Parameter]
  /// Why this build or machine cannot run the operation, or nil: a program using it SKIPs.
  public var unmetNeed: String?
  /// Whether the process the operation reports as its CHILD is a thread of the step's caller.
  public var makesThreads: Bool
  /// The signal that may end the process it reports as its CHILD instead of a clean exit.
  public var childMayBeKilledBy: Int64?
  /// What of the sandbox body's scratch memory it runs stacks on: none, during its step, or
  /// for the rest of the program.
  public var scratch: kabi_scratch_use

  /// The syscalls a step of the operation makes: its own, and those of the arguments it gives.
  func syscalls(of step: ProgramCall.Step) -> [String] {
    ([syscall] + parameters.filter { step.args[$0.name] != nil }.map(\.syscall)).compactMap { $0 }
  }

  /// Every registered operation, by name (the `kabi_ops` section).
  public static let registered: [String: Operation] = {
    var operations: [String: Operation] = [:]
    for index in 0..<kabi_op_count() {
      guard let op = kabi_op_at(index) else { continue }
      let entry = op.pointee
      let parameters = withUnsafeBytes(of: entry.params) { raw in
        raw.bindMemory(to: kabi_param.self).filter { $0.name != nil }.map { param in
          Parameter(
            name: String(cString: param.name), kind: kabi_arg_kind(UInt32(param.kind)),
            slot: Int(param.slot), absent: param.absent,
            syscall: param.syscall.map { String(cString: $0) })
        }
      }
      let name = String(cString: entry.name)
      var reason = [CChar](repeating: 0, count: 512)
      operations[name] = Operation(
        name: name, syscall: entry.syscall.map { String(cString: $0) }, parameters: parameters,
        unmetNeed: kabi_op_unmet_need(op, &reason, reason.count).map { String(cString: $0) },
        makesThreads: entry.makes_thread != 0,
        childMayBeKilledBy: entry.child_killed_by == 0 ? nil : Int64(entry.child_killed_by),
        scratch: kabi_scratch_use(UInt32(entry.scratch)))
    }
    return operations
  }()
}

/// A program compiled for the sandbox, with the memory its arguments point at (kept alive as
/// long as this value).
public final class CompiledProgram {
  public private(set) var program = kabi_program()
  /// Per step, the clone_args it passed, for the proof of what a child must show.
  public private(set) var cloneArgs: [Int32: CloneArgsSpec] = [:]
  /// Every `set_tid_size` a `"level+N"` word resolved to.
  public private(set) var levelSizes: [Int] = []
  /// Per step, the tree it restores (`TreeRestore.swift`), with the memory the sandbox reads.
  public private(set) var trees: [Int32: (plan: TreePlan, memory: TreePlanMemory?)] = [:]
  private var memory: [AnyObject] = []
  let context: ProgramContext?

  /// Whether the program is only checked (as its table loads), so no memory is built for it.
  private let validating: Bool

  /// Compiles `call`; `context` resolves the words a table may use for where the program runs
  /// (`"level+2"`, `"$hostPidMaxInode"`), which compile to placeholders without it.
  public init(_ call: ProgramCall, context: ProgramContext? = nil, validating: Bool = false)
    throws(ProgramError)
  {
    self.context = context
    self.validating = validating
    let steps = call.steps
    guard !steps.isEmpty, steps.count <= Int(KABI_PROGRAM_STEPS) else {
      throw ProgramError("a program has 1 to \(KABI_PROGRAM_STEPS) steps")
    }
    var labels: [String: Int] = [:]
    var compiledSteps: [kabi_step] = []
    // The step whose processes run on the body's scratch memory until the program ends: a
    // later step that ran stacks there too would overwrite their live frames.
    var scratchHolder: (index: Int, op: String)?
    for (index, step) in steps.enumerated() {
      let scratch = Operation.registered[step.op]?.scratch ?? KABI_SCRATCH_NONE
      if let holder = scratchHolder, scratch != KABI_SCRATCH_NONE {
        throw ProgramError(
          "step \(index + 1) (\(step.op)) runs on the sandbox body's scratch memory, which step "
            + "\(holder.index + 1) (\(holder.op)) holds for the rest of the program: their "
            + "stacks would overlap")
      }
      if scratch == KABI_SCRATCH_HELD { scratchHolder = (index, step.op) }
      compiledSteps.append(try compile(step, of: call, index: index, labels: labels))
      if let label = step.label {
        guard labels[label] == nil else { throw ProgramError("two steps are labelled \(label)") }
        labels[label] = index
      }
    }
    program.count = UInt32(steps.count)
    storeArray(compiledSteps, into: &program.steps)
  }

  private func compile(
    _ step: ProgramCall.Step, of call: ProgramCall, index: Int, labels: [String: Int]
  ) throws(ProgramError) -> kabi_step {
    guard let operation = Operation.registered[step.op] else {
      throw ProgramError(
        "no operation \"\(step.op)\" (known: "
          + Operation.registered.keys.sorted().joined(separator: ", ") + ")")
    }
    var compiled = kabi_step()
    Self.put(step.op, into: &compiled.op)
    compiled.setup = step.setup == true ? 1 : 0
    compiled.go_on = step.goOn == true ? 1 : 0
    var slots = [Int64](repeating: 0, count: Int(KABI_STEP_ARGS))
    var references = [(step: Int8, name: String)](
      repeating: (Int8(KABI_REF_NONE), ""), count: Int(KABI_STEP_ARGS))
    for parameter in operation.parameters where parameter.kind != KABI_ARG_PATH {
      slots[parameter.slot] = parameter.absent
    }
    for (name, value) in step.args.sorted(by: { $0.key < $1.key }) {
      guard let parameter = operation.parameters.first(where: { $0.name == name }) else {
        throw ProgramError(
          "\(step.op) takes no argument \"\(name)\" (it takes: "
            + operation.parameters.map(\.name).joined(separator: ", ") + ")")
      }
      let what = "\(step.op) \(name)"
      // Fills the parameter's slots, from its first.
      func fill(_ words: Int64...) {
        slots.replaceSubrange(parameter.slot..<parameter.slot + words.count, with: words)
      }
      switch (parameter.kind, value) {
      case (KABI_ARG_PATH, .text(let path)) where path.utf8.count < Int(KABI_STEP_TEXT):
        Self.put(path, into: &compiled.text)
      case (KABI_ARG_PATH, _):
        throw ProgramError("\(what): a path of at most \(KABI_STEP_TEXT - 1) bytes")
      case (KABI_ARG_NUMBER, .text(let word)) where word.hasPrefix("@"):
        references[parameter.slot] = try reference(word, labels: labels, before: index)
      case (KABI_ARG_NUMBER, .text(let word)) where word.hasPrefix("$"):
        fill(try ProgramEnvironment.value(of: word, in: context, what: what))
      case (KABI_ARG_NUMBER, .flag(let on)): fill(on ? 1 : 0)
      case (KABI_ARG_NUMBER, _), (KABI_ARG_FLAGS, .number), (KABI_ARG_SIGNAL, .number):
        fill(try value.decode(Int64.self, what: what))
      case (KABI_ARG_FLAGS, _):
        fill(Int64(bitPattern: try value.decode(CloneFlags.self, what: what).rawValue))
      case (KABI_ARG_SIGNAL, .text(let name)):
        guard let number = Self.signals[name] else {
          throw ProgramError("\(what): no signal \(name) (known: \(Self.signals.keys.sorted()))")
        }
        fill(Int64(number))
      case (KABI_ARG_SIGNAL, _):
        throw ProgramError("\(what): a signal name or number, not \(value)")
      case (KABI_ARG_CAPS, _):
        let text = try value.decode(String.self, what: what)
        let sets = try ProgramError.naming(what) { try CapabilitySets(text: text).knownToKernel }
        fill(
          Int64(bitPattern: sets.effective), Int64(bitPattern: sets.permitted),
          Int64(bitPattern: sets.inheritable))
      case (KABI_ARG_CAP_NAMES, _):
        let names = try ProgramCall.capabilityNames(value)
        let sets = try ProgramError.naming(what) { try CapabilitySets(text: "=", ambient: names) }
        fill(Int64(bitPattern: sets.ambient))
      case (KABI_ARG_CLONE_ARGS, _):
        let (args, size) = try resolvingLevel(in: value, before: index, of: call, what: what)
        if let size { levelSizes.append(size) }
        try CloneArgsSpec.rejectUnknownFields(in: args, what: what)
        let spec = try args.decode(CloneArgsSpec.self, what: what)
        cloneArgs[ProgramCall.record(ofStep: index)] = spec
        guard !validating else {
          _ = try spec.validSize()
          continue
        }
        let built = try spec.build()
        memory.append(built)
        fill(built.address, Int64(built.size), built.pidMaxRelative)
      case (KABI_ARG_TREE, _):
        let name = try value.decode(String.self, what: what)
        // As the table loads, any PID below PID_MAX_LIMIT will do; the case checks its own
        // pid_max before it clones (a refusal then is BROKEN: the tree does not fit here).
        let pidMax = validating ? 4_194_304 : TreePlan.pidMax
        let plan = try ProgramError.naming(what) { try TreePlan(named: name, pidMax: pidMax) }
        let memory = validating ? nil : try TreePlanMemory(plan)
        trees[ProgramCall.record(ofStep: index)] = (plan, memory)
        if let memory { fill(memory.address) }
      case (KABI_ARG_PIDS, _):
        let pids = try value.decode([Int32].self, what: what)
        let array = CArray(pids)
        memory.append(array)
        fill(Int64(pids.count), pids.isEmpty ? 0 : array.address)
      default:
        throw ProgramError("\(what): parameter kind \(parameter.kind.rawValue) is unknown")
      }
    }
    storeArray(slots, into: &compiled.args)
    storeArray(references.map(\.step), into: &compiled.ref_step)
    for (slot, reference) in references.enumerated() {
      let name = reference.name.utf8.prefix(Int(KABI_NAME_MAX) - 1)
      storeArray(name, into: &compiled.ref_name, at: slot * Int(KABI_NAME_MAX))
    }
    return compiled
  }

  /// `@label` or `@label.name` of an earlier step.
  private func reference(_ word: String, labels: [String: Int], before index: Int)
    throws(ProgramError) -> (step: Int8, name: String)
  {
    // Empty parts kept: "@blocker." must not read as "@blocker", nor "@.blocker" as it.
    let parts = word.dropFirst().split(
      separator: ".", maxSplits: 1, omittingEmptySubsequences: false
    ).map(String.init)
    guard let label = parts.first, let target = labels[label], target < index else {
      throw ProgramError("\(word) names no earlier step")
    }
    let name = parts.count > 1 ? parts[1] : ""
    guard parts.count == 1 || !name.isEmpty else {
      throw ProgramError("\(word) names no kept value after the dot")
    }
    guard name.utf8.count < Int(KABI_NAME_MAX) else {
      throw ProgramError("\(word): a kept value's name has at most \(KABI_NAME_MAX - 1) bytes")
    }
    return (Int8(target), name)
  }

  /// Signal numbers by name, as the target's `<signal.h>` defines them.
  private static let signals = [
    "SIGHUP": SIGHUP, "SIGINT": SIGINT, "SIGQUIT": SIGQUIT, "SIGKILL": SIGKILL, "SIGUSR1": SIGUSR1,
    "SIGSEGV": SIGSEGV, "SIGUSR2": SIGUSR2, "SIGPIPE": SIGPIPE, "SIGALRM": SIGALRM,
    "SIGTERM": SIGTERM, "SIGCHLD": SIGCHLD, "SIGCONT": SIGCONT, "SIGSTOP": SIGSTOP,
  ]

  private static func put<Bytes>(_ text: String, into field: inout Bytes) {
    storeArray(text.utf8.prefix(MemoryLayout<Bytes>.size - 1), into: &field)
  }
}

/// Stores `elements` one after another into `field`, a C array (a tuple in Swift), from byte
/// `offset` on.
func storeArray<Element, Field>(
  _ elements: some Sequence<Element>, into field: inout Field, at offset: Int = 0
) {
  withUnsafeMutableBytes(of: &field) { raw in
    for (index, element) in elements.enumerated() {
      raw.storeBytes(
        of: element, toByteOffset: offset + index * MemoryLayout<Element>.stride, as: Element.self)
    }
  }
}

/// Zeroed memory for `count` elements that starts with `values`, for sandbox processes to read
/// (or the kernel to write).
final class CArray<Element: FixedWidthInteger> {
  private let storage: UnsafeMutableBufferPointer<Element>

  init(_ values: [Element] = [], count: Int = 0) {
    storage = .allocate(capacity: max(1, count, values.count))
    storage.initialize(repeating: 0)
    _ = storage.update(fromContentsOf: values.prefix(storage.count))
  }

  deinit { storage.deallocate() }

  var address: Int64 { Int64(Int(bitPattern: storage.baseAddress)) }
}

extension ProgramCall {
  /// Why a failure that `expect` states with fields could never be observed with them, or nil:
  /// only the `field` results of the steps after a `goOn` step come with its failure.
  func failureFieldsProblem(in expect: [Expectation]) -> String? {
    let wentOn = steps.firstIndex { $0.goOn == true }.map { $0 + 1 } ?? steps.count
    let reported = Set(steps[wentOn...].compactMap(\.field))
    for (number, expectation) in expect.enumerated() where expectation.result != .success {
      let names = expectation.fields.values.keys.sorted()
      if let name = names.first(where: { !reported.contains($0) }) {
        return "expect[\(number)]: \(expectation.result.name) with field \"\(name)\", which no "
          + "step after a goOn step reports (\"field\"): a failure carries only those"
      }
    }
    return nil
  }

  /// Why the suite refuses the row: a call that is well-formed JSON but not one the suite can
  /// make safely, or nil.
  public var problem: String? {
    do {
      _ = try CompiledProgram(self, validating: true)
      return nil
    } catch {
      return "\(error)"
    }
  }

  /// The record step of the step at `index`: the sandbox numbers a program's steps from
  /// `KABI_PROGRAM_FIRST_STEP`, its own setup steps below it.
  static func record(ofStep index: Int) -> Int32 { Int32(KABI_PROGRAM_FIRST_STEP) + Int32(index) }

  /// The index of the step a record of record step `step` comes from; negative for the
  /// sandbox's own setup steps.
  static func index(ofRecord step: Int32) -> Int { Int(step) - Int(KABI_PROGRAM_FIRST_STEP) }

  /// The step a record of record step `step` comes from; nil for one of the sandbox's own.
  func step(ofRecord step: Int32) -> Step? {
    let index = Self.index(ofRecord: step)
    return steps.indices.contains(index) ? steps[index] : nil
  }

  /// Runs the program at the innermost level of a fresh sandbox and reads back what happened.
  ///
  /// The observation is the first step that failed, as its errno, or success with every field
  /// the program reported; a step that made a process must prove it ran with the IDs claimed
  /// (`SandboxRun.proveChild`, `CompiledProgram.childProblem`), and its PID and NSpid are
  /// fields too. SKIPs when the nesting does not fit where the suite runs, or an operation
  /// this build or machine cannot run (`Operation.unmetNeed`).
  public func observe() throws -> Observation {
    try requireInitialNamespace()
    for step in steps {
      if let need = Operation.registered[step.op]?.unmetNeed { throw CaseSkip(.environment, need) }
    }
    if steps.contains(where: { Operation.registered[$0.op]?.syscall == "clone3" }) {
      try Features.requireUsable("clone3", for: "the call or its setup")
    }
    // A syscall the environment refuses (seccomp) cannot answer for the kernel.
    for (index, step) in steps.enumerated() {
      for syscall in Operation.registered[step.op]?.syscalls(of: step) ?? [] {
        guard let refused = TestEnvironment.refusedSyscalls[syscall] else { continue }
        throw CaseSkip(
          .environment,
          "step \(index + 1), \(step.op), needs \(syscall), which is refused here: \(refused)")
      }
    }
    let levels = try sandboxLevels()
    let environment = try ProgramEnvironment(for: self, levels: levels)
    defer { environment.close() }
    let context = ProgramContext(
      suiteLevel: TestEnvironment.pidNamespaceLevel ?? 0, levels: levels,
      values: environment.values)
    let compiled = try CompiledProgram(self, context: context)
    try compiled.requireLevelSizesFit()
    var spec = sandboxSpec
    spec.levels = levels
    spec.keepDescriptors = environment.keepDescriptors
    spec.timeoutMilliseconds = max(spec.timeoutMilliseconds, compiled.treeTimeoutMilliseconds)
    let run = try run(compiled, spec: spec) { environment.inspect($0) }
    let observed = try observation(of: run, compiled: compiled, outside: environment.outside)
    try environment.removeCgroup()
    return observed
  }

  /// The sandbox this program asks for.
  public var sandboxSpec: SandboxSpec {
    SandboxSpec(
      levels: levels?.count ?? 1, mapRoot: mapRoot ?? true,
      inCallersUserNamespace: inSuiteUserNamespace == true)
  }

  /// Runs the program (as `compiled`, or compiled here) at the innermost level of a fresh
  /// sandbox (`spec`, or the program's own), calling `onReport` with each record as it arrives.
  public func run(
    _ compiled: CompiledProgram? = nil, spec: SandboxSpec? = nil,
    onReport: (SandboxReport) -> Void = { _ in }
  ) throws -> SandboxRun {
    let compiled = try compiled ?? CompiledProgram(self)
    var program = compiled.program
    return try withExtendedLifetime(compiled) {
      try Sandbox.run(
        spec ?? sandboxSpec, body: kabi_body_program, argument: &program,
        maxReports: compiled.maxReports, onReport: onReport)
    }
  }

  /// Throws BROKEN when a setup step of the program, or the sandbox itself, failed: the step
  /// is named in words, with the syscall it made when the operation registered one, and with
  /// the earlier step that failed and went on (a retry that fails says what it left behind).
  public func requireSetUp(_ run: SandboxRun) throws(CaseBroken) {
    if let report = run.reports(.setupFailed).first, Self.index(ofRecord: report.step) >= 0,
      case .failure(let errno) = report.result
    {
      let number = Self.index(ofRecord: report.step) + 1
      let step = self.step(ofRecord: report.step)
      let words = step.map { "step \(number), \($0.words)" } ?? "step \(number)"
      let failed = report.name.map { $0 == step?.op ? "" : " (\($0))" } ?? ""
      let after = run.reports(.call).first { call in
        call.step < report.step && call.value < 0 && self.step(ofRecord: call.step)?.goOn == true
      }.map { call in
        "; step \(Self.index(ofRecord: call.step) + 1) failed before it with "
          + "\(Errno(rawValue: Int32(-call.value)).name) and went on: that failure left what it "
          + "took reserved"
      }
      throw CaseBroken(
        step: "sandbox level \(report.level): \(words)\(failed)\(after ?? "")", errno: errno,
        syscall: step.flatMap { Operation.registered[$0.op]?.syscall })
    }
    try run.requireSetUp()
  }

  /// What a run of this program observed: every process a step made is proved first (also when
  /// a later step failed), then the first failed step is the answer.
  public func observation(
    of run: SandboxRun, compiled: CompiledProgram? = nil, outside: OutsideCheck? = nil
  ) throws(CaseBroken) -> Observation {
    try requireSetUp(run)
    if let blocked = outside?.blocked {
      throw CaseBroken(step: "look at the child from outside the sandbox: \(blocked)")
    }
    if let problem = premiseProblem(in: run) {
      throw CaseBroken(step: "stand on the case's premise: \(problem)")
    }
    if let problem = try compiled?.treeProblem(in: run) { return .broken(problem) }
    let calls = run.reports(.call).filter { Self.index(ofRecord: $0.step) >= 0 }
    var fields = Fields()
    var produced: Observation?
    for call in calls {
      let child = run.reports(.child).first { $0.step == call.step }
      // A process its creator reaped (CHILD_EXIT) was made even if it never reported back:
      // the proof, not a plain success, judges it.
      let reaped = call.value > 0 && run.reports(.childExit).contains { $0.step == call.step }
      guard child != nil || reaped else { continue }
      let step = steps[Self.index(ofRecord: call.step)]
      let proof = run.proveChild(
        returned: call.value, by: call, step: call.step,
        thread: Operation.registered[step.op]?.makesThreads == true,
        killedBy: Operation.registered[step.op]?.childMayBeKilledBy)
      if case .broken = proof.outcome { return proof }
      if let problem = compiled?.childProblem(of: step, call: call, in: run, outside: outside) {
        return .broken(problem)
      }
      fields.values.merge(proof.fields.values) { _, proved in proved }
      if step.args["childReadsPidMax"] == .flag(true), let child {
        produced = .produced(child.value)
      }
    }
    let failed = calls.first { $0.value < 0 }
    if let failed, case .failure(let errno) = failed.result {
      guard steps[Self.index(ofRecord: failed.step)].goOn == true else { return .failed(errno) }
      if calls.count == steps.count {
        // The program went on: what the steps after the failure found comes with it (whether
        // a refused signal still reached another process).
        var after = Fields()
        for call in calls where call.step > failed.step {
          if let name = step(ofRecord: call.step)?.field { after[name] = .number(call.value) }
        }
        return Observation(.failure(errno), after)
      }
    }
    guard calls.count == steps.count else {
      return .broken(
        "the sandbox exited (\(run.exitDescription)) after \(calls.count) of \(steps.count) steps")
    }
    if let produced { return produced }
    // A name that ends in "[]" is a list, one record per element, named after its step's
    // label when it has one: "NSpid[]" of the step labelled "outer" is "outer.NSpid".
    var lists: [String: [Int64]] = [:]
    for field in run.reports(.field) where !isProof(field) {
      let name = field.name ?? "step \(Self.index(ofRecord: field.step))"
      if name.hasSuffix("[]") {
        let label = step(ofRecord: field.step)?.label.map { $0 + "." }
        lists[(label ?? "") + name.dropLast(2), default: []].append(field.value)
      } else {
        fields[name] = .number(field.value)
      }
    }
    for (name, list) in lists { fields[name] = .numbers(list) }
    for call in calls {
      if let name = step(ofRecord: call.step)?.field { fields[name] = .number(call.value) }
    }
    return .success(fields)
  }
}
