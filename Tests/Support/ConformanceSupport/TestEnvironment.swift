import CKernelABI
import CLibcap
import ConformanceResults
import Foundation
import KernelABI

/// What the run can and cannot do here, probed once per test process.
public enum TestEnvironment {
  /// `Seccomp:` of `/proc/self/status` (0 none, 1 strict, 2 filter); nil if unreadable.
  public static let seccompMode: Int? = statusField("Seccomp").flatMap { Int($0) }

  /// Why the sandbox cannot start here, or nil when it can.
  ///
  /// Every case runs in its own user and PID namespaces, so this decides whether any case
  /// can run at all.
  public static let sandboxUnavailable: String? = levelProbe.unavailable

  /// The PID-namespace level the suite itself runs at (0 = the initial PID namespace).
  ///
  /// Measured from inside a sandbox, because NSpid is cut short by a procfs mounted inside a
  /// PID namespace (`unshare --mount-proc`).
  public static let pidNamespaceLevel: Int? = levelProbe.level

  /// Where a cgroup v2 hierarchy is mounted (`CLONE_INTO_CGROUP` needs one): `/sys/fs/cgroup`,
  /// or `/sys/fs/cgroup/unified` on a hybrid setup; nil when there is none.
  public static let cgroupV2Mount: String? = {
    let mounts = (try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? ""
    for line in mounts.split(separator: "\n") {
      let fields = line.split(separator: " ")
      guard fields.count > 2, fields[2] == "cgroup2" else { continue }
      let path = String(fields[1])
      if kabi_filesystem_type(path) == KABI_CGROUP2_SUPER_MAGIC { return path }
    }
    return nil
  }()

  /// Conditions that limit the run, one sentence each.
  public static var limitations: [String] {
    var list: [String] = []
    if let sandboxUnavailable { list.append(sandboxUnavailable) }
    if let seccompMode, seccompMode != 0 { list.append("seccomp mode \(seccompMode) is active") }
    if cgroupV2Mount == nil { list.append("no cgroup v2 hierarchy is mounted") }
    if !Capabilities.effective(CAP_SYS_ADMIN) {
      list.append(
        "no CAP_SYS_ADMIN in the suite's own user namespace (\(Capabilities.text)): "
          + "cases that need privilege outside the sandbox skip")
    }
    return list
  }

  /// The environment as the result log records it.
  public static func record() -> EnvironmentRecord {
    EnvironmentRecord(
      kernel: RunningKernel.release, machine: RunningKernel.machine,
      pidNamespaceLevel: pidNamespaceLevel, features: Features.summary(),
      limitations: limitations)
  }

  private static let levelProbe: (level: Int?, unavailable: String?) = {
    var nothing: Int32 = 0
    do throws(Errno) {
      let run = try Sandbox.run(body: kabi_body_probe_level, argument: &nothing)
      if let failure = run.setupFailure {
        return (nil, "sandbox setup failed at step \(failure.step): \(failure.errno)")
      }
      guard let report = run.reports(.level).first else {
        return (nil, "the level probe sent no report")
      }
      switch report.result {
      case .success(let level): return (Int(level) - 1, nil)
      case .failure(let errno): return (nil, "the level probe failed: \(errno)")
      }
    } catch {
      return (nil, explainSandboxFailure(error))
    }
  }()

  /// Names the likely cause when the sandbox's clone(CLONE_NEWUSER|CLONE_NEWPID) fails.
  private static func explainSandboxFailure(_ error: Errno) -> String {
    let call = "clone(CLONE_NEWUSER|CLONE_NEWPID) failed with \(error.name)"
    var causes: [String] = []
    if sysctl("user/max_user_namespaces") == "0" {
      causes.append("user namespaces disabled (user.max_user_namespaces = 0)")
    }
    if sysctl("user/max_pid_namespaces") == "0" {
      causes.append("PID namespaces disabled (user.max_pid_namespaces = 0)")
    }
    if sysctl("kernel/unprivileged_userns_clone") == "0" {
      causes.append("kernel.unprivileged_userns_clone = 0")
    }
    if sysctl("kernel/apparmor_restrict_unprivileged_userns") == "1" {
      causes.append("AppArmor restricts unprivileged user namespaces")
    }
    if let seccompMode, seccompMode != 0, error == .ENOSYS || error == .EPERM {
      causes.append("seccomp mode \(seccompMode) filters clone3")
    }
    if error == .ENOSYS, seccompMode == 0 { causes.append("the kernel has no clone3") }
    return causes.isEmpty ? call : "\(call): \(causes.joined(separator: "; "))"
  }

  private static func sysctl(_ path: String) -> String? {
    (try? String(contentsOfFile: "/proc/sys/" + path, encoding: .utf8))?
      .trimmingCharacters(in: .whitespacesAndNewlines)
  }

  private static func statusField(_ key: String) -> String? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else {
      return nil
    }
    for line in status.split(separator: "\n") where line.hasPrefix(key + ":") {
      return line.dropFirst(key.count + 1).trimmingCharacters(in: .whitespaces)
    }
    return nil
  }
}
