import CKernelABI
import CLibcap
import ConformanceResults
import Foundation
import KernelABI
import Testing

/// What the run can and cannot do here, probed once per test process.
public enum TestEnvironment {
  /// `Seccomp:` of `/proc/self/status` (0 none, 1 strict, 2 filter); nil if unreadable.
  public static let seccompMode: Int? = {
    var mode: Int32 = 0
    return kabi_read_numbers("/proc/self/status", "Seccomp:", &mode, 1) == 1 ? Int(mode) : nil
  }()

  /// Why the sandbox cannot start here, or nil when it can.
  ///
  /// Every case runs in its own user and PID namespaces, so this decides whether any case
  /// can run at all.
  public static let sandboxUnavailable: String? = levelMeasurement.unavailable

  /// The PID-namespace level the suite itself runs at (0 = the initial PID namespace); nil
  /// when it could not be measured (`pidNamespaceLevelEvidence` says why).
  ///
  /// Never derived from set_tid, the behaviour under test: PID namespaces are nested below a
  /// sandbox until create_pid_namespace() refuses the level above MAX_PID_NS_LEVEL, checked
  /// against NSpid (a lower bound, cut short by a procfs mounted inside a PID namespace) and
  /// the initial namespace's fixed inode. set_tid's own limit is only compared with it.
  public static let pidNamespaceLevel: Int? = levelMeasurement.level

  /// How the level was measured and what disagreed, one sentence.
  public static let pidNamespaceLevelEvidence: String = levelMeasurement.evidence

  /// Syscalls this environment refuses (seccomp) or lacks, with their answer: the suite falls
  /// back where it can (kill(2) for pidfd_send_signal, clone for clone3 in helpers) and skips
  /// the cases whose call under test is refused.
  public static let refusedSyscalls: [String: Errno] = {
    var refused: [String: Errno] = [:]
    func note(_ syscall: String, _ result: Int) {
      if result == -Int(EPERM) || result == -Int(ENOSYS) {
        refused[syscall] = Errno(rawValue: Int32(-result))
      }
    }
    let opened = kabi_pidfd_open(getpid(), 0)
    note("pidfd_open", opened)
    let pidfd = opened >= 0 ? Int32(opened) : -1
    note("pidfd_send_signal", kabi_pidfd_send_signal(pidfd, 0, nil, 0))
    // A descriptor number nobody has: EBADF where the call exists (5.6+), ENOSYS or EPERM where
    // a filter refuses it (scripts/hostile-environments' pidfd settings).
    note("pidfd_getfd", kabi_pidfd_getfd(pidfd, -1, 0))
    if pidfd >= 0 { close(pidfd) }
    if case .blocked = Features.state("clone3"), let answer = Features.answer("clone3") {
      refused["clone3"] = answer
    }
    return refused
  }()

  /// `seccomp mode 2 (filter)`, or what else `/proc/self/status` says.
  public static var seccompDescription: String {
    switch seccompMode {
    case 0?: "no seccomp filter is active, so the kernel itself lacks it"
    case 1?: "seccomp strict mode"
    case 2?: "a seccomp filter (mode 2) is active"
    default: "the seccomp mode is unknown"
    }
  }

  /// Conditions that limit the run, one sentence each.
  public static var limitations: [String] {
    var list: [String] = []
    if let sandboxUnavailable { list.append(sandboxUnavailable) }
    if pidNamespaceLevel == nil || levelMeasurement.disagreement != nil {
      list.append(levelMeasurement.disagreement ?? pidNamespaceLevelEvidence)
    }
    for (name, errno) in refusedSyscalls.sorted(by: { $0.key < $1.key }) {
      list.append("\(name) answers \(errno.name) (\(seccompDescription))")
    }
    if let seccompMode, seccompMode != 0 { list.append("seccomp mode \(seccompMode) is active") }
    // CLONE_INTO_CGROUP needs a cgroup v2 hierarchy.
    switch readText("/proc/self/mountinfo") {
    case .failure(let error):
      list.append("cannot read \(error.text), so no cgroup v2 hierarchy is known")
    case .success(let mountinfo) where OwnCgroup.mountPoint(mountinfo: mountinfo) == nil:
      list.append("no cgroup v2 hierarchy is mounted")
    case .success: break
    }
    return list
  }

  /// Who runs the suite, in one phrase: the user, whether in the initial user namespace, and
  /// CAP_SYS_ADMIN there. A capability the suite lacks is not a limitation of the run: every
  /// case runs in namespaces of its own, and a case that needs more skips and says so.
  public static var setting: String {
    let uid = geteuid()
    // An unreadable uid_map leaves it unknown (nil), which the setting names.
    let initial: Bool? =
      switch readText("/proc/self/uid_map") {
      case .success(let map): map.split(whereSeparator: \.isWhitespace) == ["0", "0", "4294967295"]
      case .failure: nil
      }
    let place: String
    switch (uid, initial) {
    case (0, true?): place = "root in the initial user namespace"
    case (_, true?): place = "unprivileged (uid \(uid)) in the initial user namespace"
    case (_, false?): place = "uid \(uid) inside a user namespace"
    case (_, nil): place = "uid \(uid), user namespace unknown (/proc/self/uid_map unreadable)"
    }
    let admin = Capabilities.effective(CAP_SYS_ADMIN) ? "with" : "without"
    return "\(place), \(admin) CAP_SYS_ADMIN (\(Capabilities.text))"
  }

  /// The environment as the result log records it.
  public static func record() -> EnvironmentRecord {
    EnvironmentRecord(
      kernel: RunningKernel.release, machine: RunningKernel.machine,
      pidNamespaceLevel: pidNamespaceLevel, features: Features.summary(),
      limitations: limitations, expectedCases: FixtureCatalog.expectedCases.counts,
      fixtureErrors: FixtureCatalog.expectedCases.errors.nilIfEmpty,
      selection: ProcessInfo.processInfo.environment["PIDNS_SELECTION"]
        ?? CaseSelection.current?.description,
      pidNamespaceLevelEvidence: pidNamespaceLevelEvidence, timeoutScale: Sandbox.timeoutScale,
      selectedCases: CaseSelection.current?.selectors,
      suiteRevision: ProcessInfo.processInfo.environment["PIDNS_REVISION"], setting: setting,
      featureEvidence: Features.evidence().nilIfEmpty, facts: facts,
      kernelVersion: RunningKernel.version.map { "\($0)" })
  }

  /// The settings that decide skips and setup failures, as read (an unreadable one by its
  /// errno), so a report says which of them made a case skip or break.
  static var facts: [String: String] {
    var facts: [String: String] = [:]
    // A sysctl this kernel does not have (unprivileged_userns_clone is Debian's) is left out.
    for name in [
      "user/max_user_namespaces", "user/max_pid_namespaces", "kernel/pid_max",
      "kernel/unprivileged_userns_clone", "kernel/apparmor_restrict_unprivileged_userns",
    ] {
      facts[name.replacingOccurrences(of: "/", with: ".")] = sysctl(name)
    }
    let limit = kabi_nproc_limit()
    facts["RLIMIT_NPROC"] = limit >= 0 ? "\(limit)" : "unlimited"
    facts["seccomp"] = seccompMode.map { "\($0)" } ?? "unknown"
    for (name, errno) in refusedSyscalls { facts["\(name)()"] = "refused, \(errno.name)" }
    return facts
  }

  struct LevelMeasurement {
    var level: Int?
    var unavailable: String?
    var evidence: String
    /// Set when set_tid's limit or NSpid contradicts the nesting measurement.
    var disagreement: String?
  }

  private static let levelMeasurement: LevelMeasurement = {
    let ownInode = kabi_inode("/proc/self/ns/pid")
    let ownNSpidCount = ProcessStatus.nspid("self")?.count
    var nothing: Int32 = 0
    let run: SandboxRun
    do throws(Errno) {
      run = try Sandbox.run(body: kabi_body_nest_pid_namespaces, argument: &nothing)
    } catch {
      let why = explainSandboxFailure(error)
      return LevelMeasurement(unavailable: why, evidence: "no sandbox: \(why)")
    }
    if let report = run.reports(.setupFailed).first, case .failure(let errno) = report.result {
      let why = "sandbox setup failed at step \(report.step): \(errno)"
      return LevelMeasurement(unavailable: why, evidence: why)
    }
    if let damage = run.damage {
      return LevelMeasurement(evidence: "the nesting probe's run cannot be judged: \(damage)")
    }
    guard let report = run.reports(.level).first else {
      return LevelMeasurement(
        evidence: "the nesting probe sent no report (\(run.exitDescription)): level unknown")
    }
    let made = Int(report.value)
    let refusal = Errno(rawValue: -report.step)
    var evidence: [String] = []
    var level: Int?
    if refusal == .ENOSPC {
      // The sandbox is one level below the suite, and `made` more fit below it.
      level = Int(KABI_MAX_PID_NS_LEVEL) - 1 - made
      evidence.append(
        "\(made + 1) PID namespaces nest below the suite before clone(CLONE_NEWPID) answers "
          + "ENOSPC: level \(level ?? 0)")
      if let limit = sysctl("user/max_pid_namespaces").flatMap(Int.init), limit < 1024 {
        evidence.append("but user.max_pid_namespaces is \(limit), which may have ended it early")
        level = nil
      }
    } else {
      evidence.append("nesting PID namespaces stopped after \(made + 1) with \(refusal.name)")
    }
    // `init_pid_ns.ns.inum`: PROC_PID_INIT_INO in include/linux/proc_ns.h, fixed since 3.8.
    if ownInode == 0xEFFF_FFFC {
      if level != nil, level != 0 {
        evidence.append("yet the suite's PID namespace is the initial one (inode 0xeffffffc)")
        level = nil
      } else {
        level = 0
        evidence.append("the suite's PID namespace is the initial one")
      }
    }
    if let count = ownNSpidCount, let measured = level, count - 1 > measured {
      evidence.append("yet the suite's NSpid shows \(count - 1) levels above it")
      level = nil
    }
    var disagreement: String?
    if let level, case .present = Features.state("clone3.set_tid") {
      switch setTidLimitLevel() {
      case .success(let kernelSays) where kernelSays != level:
        disagreement =
          "set_tid's size limit puts the suite at PID-namespace level \(kernelSays), the nesting "
          + "limit at \(level): set_tid cases are judged against \(level)"
        evidence.append(disagreement ?? "")
      case .success:
        evidence.append("set_tid's size limit agrees")
      case .failure(let why):
        evidence.append("set_tid's size limit could not be compared: \(why.text)")
      }
    }
    return LevelMeasurement(
      level: level, evidence: evidence.joined(separator: "; "), disagreement: disagreement)
  }()

  /// Why a cross-check could not run, in words.
  struct Unmeasured: Error {
    var text: String
  }

  /// The suite's level as set_tid's `set_tid_size <= level + 1` check implies: a cross-check.
  private static func setTidLimitLevel() -> Result<Int, Unmeasured> {
    var nothing: Int32 = 0
    let run: SandboxRun
    do throws(Errno) {
      run = try Sandbox.run(body: kabi_body_probe_level, argument: &nothing)
    } catch {
      return .failure(Unmeasured(text: "its sandbox did not start: \(error)"))
    }
    if let damage = run.damage {
      return .failure(Unmeasured(text: "its run cannot be judged: \(damage)"))
    }
    switch run.reports(.level).first?.result {
    case .success(let level)?: return .success(Int(level) - 1)
    case .failure(let error)?: return .failure(Unmeasured(text: "the probe answered \(error)"))
    case nil: return .failure(Unmeasured(text: "the probe sent no report (\(run.exitDescription))"))
    }
  }

  /// Names the likely cause when the sandbox's clone(CLONE_NEWUSER|CLONE_NEWPID) fails.
  private static func explainSandboxFailure(_ error: Errno) -> String {
    let call = "clone(CLONE_NEWUSER|CLONE_NEWPID) failed with \(error.name)"
    var causes: [String] = [
      ("user/max_user_namespaces", "0", "user namespaces disabled (user.max_user_namespaces = 0)"),
      ("user/max_pid_namespaces", "0", "PID namespaces disabled (user.max_pid_namespaces = 0)"),
      ("kernel/unprivileged_userns_clone", "0", "kernel.unprivileged_userns_clone = 0"),
      (
        "kernel/apparmor_restrict_unprivileged_userns", "1",
        "AppArmor restricts unprivileged user namespaces"
      ),
    ].compactMap { name, value, cause in sysctl(name) == value ? cause : nil }
    if let seccompMode, seccompMode != 0, error == .ENOSYS || error == .EPERM {
      causes.append("seccomp mode \(seccompMode) filters clone3")
    }
    if error == .ENOSYS, seccompMode == 0 { causes.append("the kernel has no clone3") }
    return causes.isEmpty ? call : "\(call): \(causes.joined(separator: "; "))"
  }

  /// A procfs file's text, or why it could not be read.
  static func readText(_ path: String) -> Result<String, Unmeasured> {
    do {
      return .success(try String(contentsOfFile: path, encoding: .utf8))
    } catch {
      return .failure(Unmeasured(text: "\(path): \(error.localizedDescription)"))
    }
  }

  /// A sysctl's value; nil where the kernel has no such sysctl, which is then not a cause.
  private static func sysctl(_ path: String) -> String? {
    guard case .success(let text) = readText("/proc/sys/" + path) else { return nil }
    return text.trimmingCharacters(in: .whitespacesAndNewlines)
  }

}

/// Cancels (skips) a test of the suite itself where no sandbox can start, naming why: those
/// tests exercise the sandbox, which is then simply not there to test.
public struct SandboxRequirement: TestTrait, SuiteTrait, TestScoping {
  public var isRecursive: Bool { true }

  public func provideScope(
    for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
  ) async throws {
    if let reason = TestEnvironment.sandboxUnavailable {
      try Test.cancel(Comment(rawValue: "no sandbox can start here: \(reason)"))
    }
    try await function()
  }
}

extension Trait where Self == SandboxRequirement {
  /// The test needs a sandbox (user and PID namespaces the suite can create).
  public static var needsSandbox: Self { SandboxRequirement() }
}
