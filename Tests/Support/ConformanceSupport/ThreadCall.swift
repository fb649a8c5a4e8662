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
    var call = kabi_thread_call()
    call.extra_flags = extraFlags?.rawValue ?? 0
    let tids = setTid ?? []
    precondition(tids.count <= Int(KABI_MAX_PID_NS_LEVEL) + 1, "set_tid longer than the ABI")
    withUnsafeMutableBytes(of: &call.tids) { bytes in
      for (index, tid) in tids.enumerated() {
        bytes.storeBytes(of: tid, toByteOffset: index * 4, as: Int32.self)
      }
    }
    call.tid_count = UInt32(tids.count)
    call.unshare_pid = unsharePidFirst == true ? 1 : 0
    let run = try Sandbox.run(body: kabi_body_clone3_thread, argument: &call)
    let observation = try Clone3Call.observation(of: run)
    guard observation.outcome == .success, let thread = run.reports(.child).first,
      let creator = run.reports(.call).first
    else { return observation }
    guard thread.value == Int64(creator.pid) else {
      return .broken(
        "the new thread's getpid() is \(thread.value), not its creator's \(creator.pid)")
    }
    return observation
  }
}
