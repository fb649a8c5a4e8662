import CKernelABI
import KernelABI

/// A row's call as a small program for an area's C body: steps, each an operation by name with
/// a path, flags and numbers as arguments (`struct kabi_program`). The body interprets the
/// steps; what it observes comes back as named fields, so a new area adds operations in C and
/// fields in its table, and no Swift type.
public struct ProgramCall: Codable, Hashable, Sendable {
  public struct Step: Codable, Hashable, Sendable {
    /// The operation, as the area's body names it (`parent`), or `unshare`.
    public var op: String
    /// The word argument: a path such as `/proc/self/ns/pid`.
    public var path: String?
    /// Flags by name; they go first in the numbers.
    public var flags: CloneFlags?
    public var args: [Int64]?
    /// A step that prepares the case: its failure is BROKEN, not the case's answer.
    public var setup: Bool?
    /// The program goes on after this step fails (to release what blocked it and retry).
    public var goOn: Bool?

    public init(
      _ op: String, path: String? = nil, flags: CloneFlags? = nil, args: [Int64]? = nil,
      setup: Bool? = nil, goOn: Bool? = nil
    ) {
      self.op = op
      self.path = path
      self.flags = flags
      self.args = args
      self.setup = setup
      self.goOn = goOn
    }

    /// The step in words, for a setup failure: `write /proc/sys/kernel/pid_max`.
    var words: String { path.map { "\(op) \($0)" } ?? op }

    var numbers: [Int64] { (flags.map { [Int64(bitPattern: $0.rawValue)] } ?? []) + (args ?? []) }
  }

  /// Sandbox levels (each a user + PID namespace pair); 1 when absent.
  public var levels: Int?
  /// The first level is a PID namespace in the suite's own user namespace, which needs
  /// CAP_SYS_ADMIN there (`SandboxSpec.inCallersUserNamespace`).
  public var inSuiteUserNamespace: Bool?
  public var steps: [Step]

  public init(levels: Int? = nil, inSuiteUserNamespace: Bool? = nil, steps: [Step]) {
    self.levels = levels
    self.inSuiteUserNamespace = inSuiteUserNamespace
    self.steps = steps
  }
}

extension ProgramCall: CheckedCall {
  public var problem: String? {
    if steps.isEmpty || steps.count > Int(KABI_PROGRAM_STEPS) {
      return "a program has 1 to \(KABI_PROGRAM_STEPS) steps"
    }
    for step in steps {
      if step.op.isEmpty || step.op.utf8.count >= Int(KABI_NAME_MAX) {
        return "operation \"\(step.op)\" must have 1 to \(KABI_NAME_MAX - 1) bytes"
      }
      if (step.path?.utf8.count ?? 0) >= Int(KABI_STEP_TEXT) {
        return "path of \(step.op) is longer than \(KABI_STEP_TEXT - 1) bytes"
      }
      if step.numbers.count > Int(KABI_STEP_ARGS) {
        return "\(step.op) has more than \(KABI_STEP_ARGS) numbers"
      }
    }
    return nil
  }
}

extension ProgramCall {
  /// Runs the program in `body` (by default the common operations only) at the innermost level
  /// of a fresh sandbox and reads back what happened.
  ///
  /// The observation is the first step that failed, as its errno, or success with every field
  /// the body reported; a step that made a process must prove it ran with the IDs claimed
  /// (`SandboxRun.proveChild`), and its PID and NSpid are fields too.
  public func observe(body: kabi_sandbox_body = kabi_body_program) throws -> Observation {
    try observation(of: run(body: body))
  }

  /// Runs the program in `body` at the innermost level of a fresh sandbox (`spec`'s levels
  /// when given), calling `onReport` with each record as it arrives.
  public func run(
    body: kabi_sandbox_body = kabi_body_program, spec: SandboxSpec? = nil,
    onReport: (SandboxReport) -> Void = { _ in }
  ) throws(Errno) -> SandboxRun {
    var program = kabi_program()
    program.count = UInt32(steps.count)
    withUnsafeMutableBytes(of: &program.steps) { raw in
      let slots = raw.bindMemory(to: kabi_step.self)
      for (index, step) in steps.enumerated() {
        Self.put(step.op, into: &slots[index].op)
        Self.put(step.path ?? "", into: &slots[index].text)
        withUnsafeMutableBytes(of: &slots[index].args) { args in
          for (slot, number) in step.numbers.enumerated() {
            args.storeBytes(of: number, toByteOffset: slot * 8, as: Int64.self)
          }
        }
        slots[index].setup = step.setup == true ? 1 : 0
        slots[index].go_on = step.goOn == true ? 1 : 0
      }
    }
    let spec =
      spec
      ?? SandboxSpec(levels: levels ?? 1, inCallersUserNamespace: inSuiteUserNamespace == true)
    return try Sandbox.run(spec, body: body, argument: &program, onReport: onReport)
  }

  /// Throws BROKEN when a setup step of the program, or the sandbox itself, failed: the step
  /// is named in words, with the syscall it made when the operation is one.
  public func requireSetUp(_ run: SandboxRun) throws(CaseBroken) {
    let first = Int32(KABI_PROGRAM_FIRST_STEP)
    if let report = run.reports(.setupFailed).first, report.step >= first,
      case .failure(let errno) = report.result
    {
      let index = Int(report.step - first)
      let step = index < steps.count ? steps[index] : nil
      let words = step.map { "step \(index + 1), \($0.words)" } ?? "step \(index + 1)"
      let failed = report.name.map { $0 == step?.op ? "" : " (\($0))" } ?? ""
      throw CaseBroken(
        step: "sandbox level \(report.level): \(words)\(failed)", errno: errno,
        syscall: Self.syscall(of: report.name ?? step?.op ?? ""))
    }
    try run.requireSetUp()
  }

  /// The syscall an operation makes, for naming a likely cause (a seccomp refusal).
  private static func syscall(of op: String) -> String? {
    switch op {
    case "clone3", "thread", "blocker": "clone3"
    case "unshare", "capset": op
    case "drop-caps": "capset"
    case "fork-reap", "pid-namespaces", "spawn", "helper": "clone"
    case "write": "write"
    case "read", "inode", "own-file", "read pid_max": "read"
    default: nil
    }
  }

  /// What a run of this program observed.
  public func observation(of run: SandboxRun) throws(CaseBroken) -> Observation {
    try requireSetUp(run)
    let first = Int32(KABI_PROGRAM_FIRST_STEP)
    let calls = run.reports(.call).filter { $0.step >= first }
    if let failed = calls.first(where: { $0.value < 0 }), case .failure(let errno) = failed.result {
      return .failed(errno)
    }
    guard calls.count == steps.count else {
      return .broken(
        "the sandbox exited (\(run.exitDescription)) after \(calls.count) of \(steps.count) steps")
    }
    var fields = Fields()
    for call in calls where run.reports(.child).contains(where: { $0.step == call.step }) {
      let proof = run.proveChild(returned: call.value, by: call, step: call.step)
      guard proof.brokenReason == nil else { return proof }
      fields.values.merge(proof.fields.values) { _, proved in proved }
    }
    for field in run.reports(.field) {
      fields[field.name ?? "step \(field.step - first)"] = .number(field.value)
    }
    return .success(fields)
  }

  private static func put<Bytes>(_ text: String, into field: inout Bytes) {
    withUnsafeMutableBytes(of: &field) { bytes in
      for (index, byte) in text.utf8.prefix(bytes.count - 1).enumerated() { bytes[index] = byte }
    }
  }
}
