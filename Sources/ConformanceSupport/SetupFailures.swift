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
      step: step, errno: errno?.name, cause: errno.flatMap { Self.likelyCause($0, syscall) })
  }

  /// A sandbox run that cannot be judged: records lost, an NSpid unread, a process not killed,
  /// not reaped, or run past its timeout.
  public init(damaged damage: SandboxDamage) {
    failure = SetupFailure(step: damage.step, errno: damage.errno?.name, cause: damage.cause)
  }

  public var description: String {
    "setup failed: \(failure.step)" + (failure.errno.map { ": \($0)" } ?? "")
      + (failure.cause.map { " (\($0))" } ?? "")
  }

  /// The likely reason a setup step failed, from the errno and what the environment shows.
  static func likelyCause(_ errno: Errno, _ syscall: String?) -> String? {
    if let syscall, let refused = TestEnvironment.refusedSyscalls[syscall], refused == errno {
      return "\(syscall) is refused here (\(errno.name)): \(TestEnvironment.seccompDescription)"
    }
    switch errno {
    case .EAGAIN:
      let pids = Result { () throws(OwnCgroup.UnknownLimit) in try OwnCgroup.pidsLimit() }
      if case .success(let pids?) = pids, pids < 10_000 {
        return "pids.max is \(pids) on the suite's cgroup or one above it: every sandbox level, "
          + "helper and thread of the suite counts"
      }
      let limit = kabi_nproc_limit()
      if limit >= 0 {
        return "RLIMIT_NPROC is \(limit) for uid \(getuid()) (ulimit -u): every "
          + "sandbox level and helper is a process of that user"
      }
      if case .failure(let unknown) = pids {
        return "a pids.max of the suite's cgroup may limit it, but cannot be read: \(unknown)"
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
