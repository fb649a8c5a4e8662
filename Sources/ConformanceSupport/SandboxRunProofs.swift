import CKernelABI
import KernelABI

extension SandboxRun {
  /// Throws BROKEN when the sandbox itself, not the call under test, failed: a setup step
  /// reported SETUP_FAILED, or the run hit its timeout.
  public func requireSetUp() throws(CaseBroken) {
    if let report = reports(.setupFailed).first, case .failure(let errno) = report.result {
      let (words, syscall) =
        report.name.map { (words: "step \($0)", syscall: Optional($0)) }
        ?? Self.sandboxStep(report.step)
      throw CaseBroken(
        step: "sandbox level \(report.level): \(words)", errno: errno, syscall: syscall)
    }
    if timedOut { throw CaseBroken(damaged: timeoutDamage) }
  }

  /// The sandbox's own setup steps, in words, with the syscall each makes (a program's steps are
  /// named by `ProgramCall.requireSetUp`).
  static func sandboxStep(_ step: Int32) -> (words: String, syscall: String?) {
    switch UInt32(bitPattern: step) {
    case KABI_STEP_SETGROUPS.rawValue: ("write /proc/self/setgroups", "write")
    case KABI_STEP_UID_MAP.rawValue: ("write /proc/self/uid_map", "write")
    case KABI_STEP_GID_MAP.rawValue: ("write /proc/self/gid_map", "write")
    case KABI_STEP_CLONE_LEVEL.rawValue: ("clone the next sandbox level", "clone")
    case KABI_STEP_WAIT_LEVEL.rawValue: ("wait for the next sandbox level", "waitid")
    default: ("step \(step)", nil)
    }
  }

  /// How the outermost process ended, in words.
  public var exitDescription: String {
    if let exitCode { return "exit \(exitCode)" }
    return "signal \(signal ?? 0)"
  }

  /// The one proof, for every area, that a call which returned `pid` made a process that ran
  /// with the IDs claimed: the process reported back (record `step`), its NSpid ends with its
  /// own getpid(), the entry at its creator's level is `pid`, and it exited 0 (or was killed by
  /// `signal`, where the step's effect is to kill it); a `thread` is also in its creator's
  /// thread group (it reports its getpid(), which must be the creator's).
  /// The observation is the PID and the NSpid from the sandbox's outermost level; otherwise it
  /// is broken.
  public func proveChild(
    returned pid: Int64, by call: SandboxReport, step: Int32 = 0, thread: Bool = false,
    killedBy signal: Int64? = nil
  ) -> Observation {
    guard let child = reports(.child).first(where: { $0.step == step }) else {
      return .broken("clone3 returned \(pid) but no process reported back")
    }
    guard let nspid = child.nspid, let own = nspid.last, own == child.pid else {
      return .broken(
        "the child's NSpid \(child.nspid.map(Observation.spell) ?? "?") does not end "
          + "with its getpid() \(child.pid)")
    }
    // Its NSpid without the levels above the sandbox (the creator's NSpid ends with one entry
    // per sandbox level), so the result does not depend on where the suite runs.
    let above = call.nspid.map { $0.count - levelsMade }
    guard let above, above >= 0, nspid.count >= above else {
      return .broken("the child's NSpid \(Observation.spell(nspid)) is shorter than the sandbox")
    }
    let levels = Array(nspid.dropFirst(above))
    let creatorIndex = levelsMade - 1
    guard creatorIndex >= 0, creatorIndex < levels.count, Int64(levels[creatorIndex]) == pid
    else {
      return .broken("clone3 returned \(pid) but the child's NSpid is \(Observation.spell(levels))")
    }
    guard let exit = reports(.childExit).first(where: { $0.step == step }),
      exit.value == 0 || (signal != nil && exit.value == signal)
    else { return .broken("the child \(pid) did not exit cleanly") }
    if thread, child.value != Int64(call.pid) {
      return .broken("the new thread's getpid() is \(child.value), not its creator's \(call.pid)")
    }
    return .succeeded(pid: Int32(pid), nspid: levels)
  }

  /// How many namespace levels the sandbox made (its deepest LEVEL_READY).
  public var levelsMade: Int {
    Int(reports(.levelReady).map(\.level).max() ?? 0)
  }
}
