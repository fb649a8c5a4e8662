import CKernelABI
import ConformanceResults
import Glibc
import KernelABI

/// A case whose own setup failed: the kernel was never asked the question, so the case is
/// BROKEN, not FAIL. Thrown by an observation; `Conformance.check` records it.
public struct CaseBroken: Error, CustomStringConvertible {
  public var failure: SetupFailure

  public init(step: String, errno: Errno? = nil, syscall: String? = nil) {
    failure = SetupFailure(
      step: step, errno: errno?.name, cause: LikelyCause.of(errno, syscall: syscall))
  }

  /// A sandbox step that reported SETUP_FAILED, named in words.
  public init(sandboxStep step: Int32, level: Int32, errno: Errno, name: String? = nil) {
    let named = name.map { (words: "step \($0)", syscall: Optional($0)) } ?? SetupStep.named(step)
    self.init(step: "sandbox level \(level): \(named.words)", errno: errno, syscall: named.syscall)
  }

  /// A sandbox run that cannot be judged: records lost, an NSpid unread, a process not killed
  /// or not reaped.
  public init(damaged damage: SandboxDamage) {
    failure = SetupFailure(step: damage.step, errno: damage.errno?.name, cause: damage.cause)
  }

  /// A sandbox that ran past its timeout and was killed.
  public init(timedOut run: SandboxRun) {
    self.init(damaged: run.timeoutDamage)
  }

  public var description: String {
    "setup failed: \(failure.step)" + (failure.errno.map { ": \($0)" } ?? "")
      + (failure.cause.map { " (\($0))" } ?? "")
  }
}

/// The sandbox's own setup steps, in words, with the syscall each makes (a program's steps are
/// named by `ProgramCall.requireSetUp`).
enum SetupStep {
  static func named(_ step: Int32) -> (words: String, syscall: String?) {
    switch UInt32(bitPattern: step) {
    case KABI_STEP_SETGROUPS.rawValue: ("write /proc/self/setgroups", "write")
    case KABI_STEP_UID_MAP.rawValue: ("write /proc/self/uid_map", "write")
    case KABI_STEP_GID_MAP.rawValue: ("write /proc/self/gid_map", "write")
    case KABI_STEP_CLONE_LEVEL.rawValue: ("clone the next sandbox level", "clone")
    case KABI_STEP_WAIT_LEVEL.rawValue: ("wait for the next sandbox level", "waitid")
    default: ("step \(step)", nil)
    }
  }
}

/// The likely reason a setup step failed, from the errno and what the environment shows.
public enum LikelyCause {
  public static func of(_ errno: Errno?, syscall: String?) -> String? {
    guard let errno else { return nil }
    if let syscall, let refused = TestEnvironment.refusedSyscalls[syscall], refused == errno {
      return "\(syscall) is refused here (\(errno.name)): \(TestEnvironment.seccompDescription)"
    }
    switch errno {
    case .EAGAIN:
      let limit = kabi_nproc_limit()
      if limit >= 0 {
        return "RLIMIT_NPROC is \(limit) for uid \(getuid()) (ulimit -u): every "
          + "sandbox level and helper is a process of that user"
      }
      return "the kernel ran out of PIDs or tasks (kernel.threads-max, a pids cgroup limit)"
    case .ENOSPC:
      return "a namespace limit was reached (user.max_pid_namespaces, user.max_user_namespaces)"
    case .ENOMEM: return "out of memory (or RLIMIT_AS)"
    case .EROFS: return "/proc/sys is mounted read-only here"
    case .EPERM, .ENOSYS, .EACCES:
      if let mode = TestEnvironment.seccompMode, mode != 0 {
        return "seccomp mode \(mode) is active and may refuse \(syscall ?? "the call")"
      }
      return nil
    default: return nil
    }
  }
}
