import CKernelABI
import KernelABI

/// clone3 with `CLONE_THREAD` and `set_tid`, made from PID 1 of a fresh sandbox: a thread whose
/// TID is chosen.
public struct ThreadCall: Codable, Hashable, Sendable {
  /// TIDs for `set_tid`, innermost level first; absent leaves `set_tid` NULL.
  public var setTid: [Int32]?
  /// Flags added to the thread flags, by name, such as `["CLONE_NEWPID"]`.
  public var extraFlags: CloneFlags?
  /// `unshare(CLONE_NEWPID)` first, so children would go to another PID namespace than the
  /// caller's own.
  public var unsharePidFirst: Bool?

  /// Makes the call and reads back what happened.
  ///
  /// Success counts only when the new thread reported its own TID, that TID is the one clone3
  /// returned, and the thread is in the caller's thread group (its getpid() is the caller's).
  public func observe() throws -> Observation {
    guard kabi_threads_supported() != 0 else {
      throw CaseSkip(
        .environment, "starting a thread from a sandbox body needs the x86-64 clone3 trampoline")
    }
    let tids = (setTid ?? []).map(Int64.init)
    var steps: [ProgramCall.Step] = []
    if unsharePidFirst == true {
      steps.append(.init("unshare", flags: CloneFlags(rawValue: KABI_CLONE_NEWPID), setup: true))
    }
    steps.append(
      .init(
        "thread",
        args: [
          "flags": .number(Int64(bitPattern: (extraFlags ?? []).rawValue)),
          "setTid": .list(tids.map(Argument.number)),
        ]))
    let program = ProgramCall(steps: steps)
    let run = try program.run()
    let observation = try program.observation(of: run)
    guard observation.outcome == .success, let thread = run.reports(.child).first,
      let creator = run.reports(.call).first(where: { $0.step == thread.step })
    else { return observation }
    guard thread.value == Int64(creator.pid) else {
      return .broken(
        "the new thread's getpid() is \(thread.value), not its creator's \(creator.pid)")
    }
    return observation
  }
}

extension ThreadCall: CheckedCall {
  public var problem: String? {
    let most = Int(KABI_STEP_ARGS) - 2
    guard (setTid?.count ?? 0) > most else { return nil }
    return "the thread operation takes at most \(most) set_tid entries"
  }
}
