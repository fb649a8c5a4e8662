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

    var numbers: [Int64] { (flags.map { [Int64(bitPattern: $0.rawValue)] } ?? []) + (args ?? []) }
  }

  /// Sandbox levels (each a user + PID namespace pair); 1 when absent.
  public var levels: Int?
  public var steps: [Step]
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
  /// Runs the program in `body` at the innermost level of a fresh sandbox.
  ///
  /// The observation is the first step that failed, as its errno, or success with every field
  /// the body reported.
  public func observe(body: kabi_sandbox_body) throws -> Observation {
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
      }
    }
    let run = try Sandbox.run(SandboxSpec(levels: levels ?? 1), body: body, argument: &program)
    return try Self.observation(of: run, steps: steps.count)
  }

  static func observation(of run: SandboxRun, steps: Int) throws(CaseBroken) -> Observation {
    try run.requireSetUp()
    let first = Int32(KABI_PROGRAM_FIRST_STEP)
    let calls = run.reports(.call).filter { $0.step >= first }
    if let failed = calls.first(where: { $0.value < 0 }), case .failure(let errno) = failed.result {
      return .failed(errno)
    }
    guard calls.count == steps else {
      return .broken(
        "the sandbox exited (\(run.exitDescription)) after \(calls.count) of \(steps) steps")
    }
    var fields = Fields()
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
