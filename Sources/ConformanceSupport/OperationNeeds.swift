import CKernelABI
import Foundation

/// The facts about an operation that its C registration does not carry, by its name: what it
/// needs beyond its syscall, and what the process it makes must prove.
extension Operation {
  /// Why this build or machine cannot run the operation, or nil: a program using it SKIPs.
  public var unmetNeed: String? {
    switch name {
    case "thread" where kabi_threads_supported() == 0:
      "starting a thread from a sandbox body needs the x86-64 clone3 trampoline"
    // A child on a stack the body gives it starts in that trampoline too.
    case "cleartid" where kabi_threads_supported() == 0,
      "stack" where kabi_threads_supported() == 0:
      "a child on a stack of its own from a sandbox body needs the x86-64 clone3 trampoline"
    // Same architecture test: kabi_clone_on_stack exists where that trampoline does (x86-64).
    case "restore" where kabi_threads_supported() == 0:
      "a restored tree's threads are started with the x86-64 clone3 trampoline"
    // A process inherits no_new_privs: a child could not show that only CLONE_NNP set it.
    case "no-new-privs" where kabi_no_new_privs() != 0:
      "the test process runs with no_new_privs set (prctl PR_GET_NO_NEW_PRIVS answered "
        + "\(kabi_no_new_privs())), which every child inherits"
    case "waiting-thread" where kabi_threads_supported() == 0:
      "a thread that waits in a sandbox body needs the x86-64 clone trampoline"
    case "route-agreement" where kabi_threads_supported() == 0:
      "the agreement case's thread is started with the x86-64 clone trampoline"
    case "dumped-core": Self.coreDumpObstacle
    default: nil
    }
  }

  /// Why a child cannot dump core into the case's own directory here, or nil: core_pattern
  /// (host-wide, never written by the suite) must name a file in the dumping process's working
  /// directory, not a helper program (`|…`) or another directory of the host, and RLIMIT_CORE's
  /// hard limit must allow a dump.
  static let coreDumpObstacle: String? = {
    let pattern: String
    do {
      pattern = try String(contentsOfFile: "/proc/sys/kernel/core_pattern", encoding: .utf8)
        .trimmingCharacters(in: .newlines)
    } catch {
      return "/proc/sys/kernel/core_pattern cannot be read: \(error)"
    }
    if pattern.hasPrefix("|") || pattern.contains("/") || pattern.isEmpty {
      return "kernel.core_pattern is \"\(pattern)\": a core would go to a helper program or a "
        + "directory of the host, not the case's own tmpfs"
    }
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_CORE.rawValue), &limit) == 0 else {
      return "getrlimit(RLIMIT_CORE) failed: \(String(cString: strerror(errno)))"
    }
    return limit.rlim_max == 0
      ? "RLIMIT_CORE's hard limit is 0: no process here may dump core" : nil
  }()

  /// Whether the process the operation reports as its CHILD is a thread of the step's caller:
  /// the record's value is its getpid(), which must be the caller's.
  public var makesThreads: Bool { name == "thread" }

  /// The signal that may end the process the operation reports as its CHILD instead of a clean
  /// exit, when ending it is the effect under test: `autokill`'s child is killed (SIGKILL) by
  /// the close of its pidfd, and fields of the step say whether that close did it.
  public var childMayBeKilledBy: Int64? { name == "autokill" ? 9 : nil }  // SIGKILL
}

extension ProgramCall.Step {
  /// The syscalls the step makes beyond the one its operation registers, decided by its
  /// arguments: `pidfd-child` with a signal sends it with pidfd_send_signal.
  var otherSyscalls: [String] {
    op == "pidfd-child" && args["signal"] != nil ? ["pidfd_send_signal"] : []
  }
}

extension ProgramCall {
  /// Throws SKIP naming the first operation of the program that cannot run here.
  func requireRunnableOperations() throws(CaseSkip) {
    for step in steps {
      if let need = Operation.registered[step.op]?.unmetNeed { throw CaseSkip(.environment, need) }
    }
  }
}
