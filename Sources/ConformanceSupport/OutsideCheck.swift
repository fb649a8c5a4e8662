import CKernelABI
import Glibc
import KernelABI

/// Checks a new process's PIDs from outside its sandbox while it is held alive: a step whose
/// `hold` argument is `"$outsideHold"` (clone3's) gets the descriptor its child blocks on.
///
/// The process reports, then blocks reading `holdDescriptor`. Meanwhile the test process reads
/// its `/proc/<pid>/status` NSpid line, and asks each sandbox level's PID namespace for the
/// process's PID there (`NS_GET_PID_IN_PIDNS` on `/proc/<level init>/ns/pid`, 6.11+), then
/// releases it.
public final class OutsideCheck {
  private(set) var holdDescriptor: Int32 = -1
  private var releaseDescriptor: Int32 = -1
  private var levelInits: [Int32: SandboxReport] = [:]
  /// Why the child looked different from outside.
  private var problem: String?
  /// Why the test process could not look (an LSM, a seccomp filter, a procfs it may not read):
  /// the case's setup broke, which says nothing of the kernel.
  private(set) var blocked: String?
  private var checked = false
  /// The record step of the call whose child is checked.
  let step: Int32

  /// Opens the hold pipe for the child of record step `step`; SKIPs when procfs is not this PID
  /// namespace's own.
  init(step: Int32) throws {
    self.step = step
    guard let own = ProcessStatus.nspid("self"), own.first == getpid() else {
      throw CaseSkip(
        .environment,
        "/proc is not the suite's own PID namespace's procfs, so /proc/<pid> from outside "
          + "cannot be read (mount a procfs for the suite's namespace, e.g. unshare --mount-proc)")
    }
    // Other tests clone concurrently: close-on-exec keeps no exec'd program from holding them.
    var fds: [Int32] = [-1, -1]
    let made = kabi_pipe_cloexec(&fds)
    guard made == 0 else {
      throw CaseBroken(step: "pipe2 for holding the child", errno: Errno(rawValue: Int32(-made)))
    }
    (holdDescriptor, releaseDescriptor) = (fds[0], fds[1])
  }

  func finish() {
    for fd in [holdDescriptor, releaseDescriptor] where fd >= 0 { close(fd) }
    (holdDescriptor, releaseDescriptor) = (-1, -1)
  }

  /// Called for each record while the sandbox runs.
  func inspect(_ report: SandboxReport) {
    if report.tag == .levelReady { levelInits[report.level] = report }
    guard report.tag == .child, report.step == step, !checked else { return }
    checked = true
    do {
      problem = try look(at: report)
    } catch {
      blocked = error.text
    }
    var byte: UInt8 = 1
    _ = write(releaseDescriptor, &byte, 1)
  }

  /// What kept the test process from looking.
  private struct Blocked: Error {
    var text: String
  }

  /// Reads the held child's NSpid from outside and its PID in each level's PID namespace, and
  /// compares them with the child's own report: why they differ, or nil; throws when the test
  /// process cannot read them.
  private func look(at child: SandboxReport) throws(Blocked) -> String? {
    guard let own = child.nspid, let hostPid = own.first else { return "the child sent no NSpid" }
    guard let outsideNSpid = ProcessStatus.nspid("\(hostPid)") else {
      throw Blocked(text: "/proc/\(hostPid)/status has no NSpid line the test process can read")
    }
    // Sandbox level → the child's PID as that level's PID namespace reports it.
    var views: [Int32: Int32] = [:]
    for (level, initReport) in levelInits.sorted(by: { $0.key < $1.key }) {
      guard let initPid = initReport.nspid?.first else { continue }
      let nsfd = open("/proc/\(initPid)/ns/pid", O_RDONLY | O_CLOEXEC)
      guard nsfd >= 0 else {
        let error = Errno(rawValue: errno)
        throw Blocked(text: "cannot open the PID namespace of sandbox level \(level): \(error)")
      }
      defer { close(nsfd) }
      let translated = kabi_ioctl(nsfd, UInt(KABI_NS_GET_PID_IN_PIDNS), UInt(hostPid))
      let error = Errno(rawValue: Int32(-translated))
      if translated < 0, error == .EPERM || error == .ENOSYS, TestEnvironment.seccompMode != 0 {
        throw Blocked(
          text:
            "NS_GET_PID_IN_PIDNS answered \(error.name) under \(TestEnvironment.seccompDescription)"
        )
      }
      guard translated >= 0 || error == .ENOTTY else {
        return "NS_GET_PID_IN_PIDNS for sandbox level \(level) failed: \(error)"
      }
      if translated >= 0 { views[level] = Int32(translated) }
    }
    guard outsideNSpid == own else {
      return "from outside, /proc/<pid>/status says NSpid \(Observation.spell(outsideNSpid)), "
        + "the child says \(Observation.spell(own))"
    }
    for (level, seen) in views.sorted(by: { $0.key < $1.key }) {
      guard let depth = levelInits[level]?.nspid?.count, depth - 1 < own.count else { continue }
      if own[depth - 1] != seen {
        return "sandbox level \(level)'s PID namespace sees the child as \(seen), "
          + "its NSpid says \(own[depth - 1])"
      }
    }
    return nil
  }

  /// Why the outside view disagrees with the child's own report, or nil.
  var verdict: String? { checked ? problem : "the child was never inspected from outside" }
}
