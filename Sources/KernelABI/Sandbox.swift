import CKernelABI
import Foundation
import Glibc
import Synchronization

/// One record a sandbox process sent back.
public struct SandboxReport: Sendable, Equatable, CustomStringConvertible {
  /// What the record says.
  public enum Tag: Int32, Sendable {
    case levelReady = 1
    case setupFailed = 2
    case call = 3
    case child = 4
    case childExit = 5
    case level = 6
    case field = 7
    /// A line of the writer's status file (`name`), its numbers in `nspid`.
    case status = 8
  }

  public var tag: Tag?
  public var step: Int32
  /// Sandbox level of the writer: 1 is the outermost namespace the sandbox made.
  public var level: Int32
  /// `getpid()` of the writer in its own PID namespace.
  public var pid: Int32
  public var value: Int64
  public var uid: Int32
  /// The writer's NSpid, outermost visible level first; nil if `/proc/self/status` was
  /// unreadable (then `nspidError` says why).
  public var nspid: [Int32]?
  public var nspidError: Errno?
  /// A FIELD record's field name, or the operation of a program step's record; nil if unnamed.
  public var name: String?

  init(_ raw: kabi_report) {
    tag = Tag(rawValue: raw.tag)
    step = raw.step
    level = raw.level
    pid = raw.pid
    value = raw.value
    uid = raw.uid
    let name = withUnsafeBytes(of: raw.name) { bytes in
      String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }
    self.name = name.isEmpty ? nil : name
    if raw.nspid_count >= 0 {
      nspid = withUnsafeBytes(of: raw.nspid) { bytes in
        Array(bytes.bindMemory(to: Int32.self).prefix(Int(raw.nspid_count)))
      }
    } else {
      nspidError = Errno(rawValue: -raw.nspid_count)
    }
  }

  /// The value as a syscall result: the number, or the errno it encodes.
  public var result: Result<Int64, Errno> {
    value >= 0 ? .success(value) : .failure(Errno(rawValue: Int32(truncatingIfNeeded: -value)))
  }

  public var description: String {
    let nspidText = nspid.map { $0.map(String.init).joined(separator: " ") } ?? "?"
    return
      "\(tag.map { "\($0)" } ?? "?") level \(level) pid \(pid) value \(value) NSpid \(nspidText)"
  }
}

/// How a sandbox run ended.
public struct SandboxRun: Sendable {
  /// The outermost sandbox process, in the caller's PID namespace (now reaped).
  public var pid: Int32
  /// The timeout expired and the sandbox was killed.
  public var timedOut: Bool
  /// The outermost process's exit code, or nil if a signal ended it.
  public var exitCode: Int32?
  /// The signal that ended it, if any.
  public var signal: Int32?
  public var reports: [SandboxReport]
  /// How many records the caller's buffer held.
  public var reportCapacity: Int
  /// Records that arrived whole but did not fit the buffer.
  public var droppedReports: Int
  /// Bytes of an incomplete trailing record: a writer that died or wrote less than a record.
  public var tornBytes: Int
  /// Killed at the timeout but still not gone after a grace period; its memory was kept.
  public var unreaped: Bool
  /// Why `pidfd_send_signal` could not deliver the timeout's SIGKILL (kill(2) then tried).
  public var killError: Errno?
  /// Why kill(2) could not deliver it either: the sandbox was left running.
  public var killFallbackError: Errno?
  /// The timeout the run had, after `$PIDNS_TIMEOUT_SCALE`.
  public var timeoutMilliseconds: Int32

  /// What `kabi_sandbox_run` left in `outcome` and the first `report_count` of `records`.
  init(outcome: kabi_sandbox_outcome, records: [kabi_report], timeoutMilliseconds: Int32) {
    let killed = outcome.wait_code != CLD_EXITED
    pid = outcome.pid
    timedOut = outcome.timed_out != 0
    exitCode = killed ? nil : outcome.wait_status
    signal = killed ? outcome.wait_status : nil
    reports = records.prefix(Int(outcome.report_count)).map(SandboxReport.init)
    reportCapacity = records.count
    droppedReports = Int(outcome.reports_dropped)
    tornBytes = Int(outcome.torn_bytes)
    unreaped = outcome.unreaped != 0
    killError = outcome.kill_errno != 0 ? Errno(rawValue: outcome.kill_errno) : nil
    killFallbackError =
      outcome.kill_fallback_errno != 0 ? Errno(rawValue: outcome.kill_fallback_errno) : nil
    self.timeoutMilliseconds = timeoutMilliseconds
  }

  /// Records that did not fit the buffer, or a trailing partial record: a broken transport.
  public var lostReports: Int { droppedReports + (tornBytes > 0 ? 1 : 0) }

  /// The records with one tag, in the order they arrived.
  public func reports(_ tag: SandboxReport.Tag) -> [SandboxReport] {
    reports.filter { $0.tag == tag }
  }

  /// Why this run cannot be judged, the gravest reason first; nil when it can.
  ///
  /// A missing record reads like a kernel that never made a process, and a record without
  /// its NSpid like one that hid it, so a case must not be judged on such a run.
  public var damage: SandboxDamage? {
    if unreaped {
      return SandboxDamage(
        step: "reap the sandbox after the timeout's SIGKILL", errno: nil,
        cause: "the sandbox was still there \(timeoutMilliseconds / 2 + 5000) ms after it was "
          + "killed (a process stuck in the kernel); its stacks stay mapped")
    }
    if let killFallbackError {
      return SandboxDamage(
        step: "kill the sandbox at its timeout with kill(2)", errno: killFallbackError,
        cause: "kill(2) answered \(killFallbackError) after pidfd_send_signal answered "
          + "\(killError?.description ?? "nothing"): the sandbox was left running")
    }
    if timedOut { return timeoutDamage }
    if droppedReports > 0 {
      return SandboxDamage(
        step: "collect the body's records", errno: nil,
        cause: "the body sent \(reports.count + droppedReports) records, the buffer holds "
          + "\(reportCapacity): \(droppedReports) dropped (raise maxReports)")
    }
    if tornBytes > 0 {
      return SandboxDamage(
        step: "collect the body's records", errno: nil,
        cause: "the last record is torn: \(tornBytes) of \(MemoryLayout<kabi_report>.size) bytes "
          + "arrived (a writer died mid-record or wrote part of one)")
    }
    if let index = reports.firstIndex(where: { $0.tag == nil }) {
      return SandboxDamage(
        step: "collect the body's records", errno: nil,
        cause: "record \(index + 1) has no known tag: the record stream is misaligned")
    }
    if let report = reports.first(where: { $0.nspidError != nil }), let errno = report.nspidError {
      return SandboxDamage(
        step: "read the reporter's NSpid at sandbox level \(report.level), pid \(report.pid)",
        errno: errno,
        cause: "its \(report.tag.map { "\($0)" } ?? "unknown") record came without its NSpid "
          + "(\(errno)), so the PIDs it reported cannot be checked")
    }
    return nil
  }
}

extension SandboxRun {
  /// A run that hit its timeout, in words: its records stop wherever the SIGKILL struck.
  public var timeoutDamage: SandboxDamage {
    let pidfdRefusal = killError.map { "; pidfd_send_signal answered \($0), kill(2) killed it" }
    return SandboxDamage(
      step: "wait for the sandbox", errno: nil,
      cause: "the sandbox ran past its \(timeoutMilliseconds) ms timeout and was killed "
        + "(PIDNS_TIMEOUT_SCALE=\(Sandbox.timeoutScale); raise it on a slow or emulated "
        + "machine)\(pidfdRefusal ?? "")")
  }
}

/// Why a sandbox run cannot be judged: records lost or torn, an NSpid unread, a sandbox not
/// killed or not reaped. A case that made such a run is BROKEN, never PASS or FAIL.
public struct SandboxDamage: Sendable, Equatable, CustomStringConvertible {
  /// What the sandbox's parent or a reporting process could not do, in words.
  public var step: String
  public var errno: Errno?
  /// The likely cause, with the numbers that show it.
  public var cause: String

  public var description: String {
    "\(step)" + (errno.map { ": \($0)" } ?? "") + " (\(cause))"
  }
}

/// The damaged sandbox runs made while a case observes the kernel. `Sandbox.run` tells the
/// watch of the current task, so a case is judged on whole runs whatever its area looked at.
public final class SandboxRunWatch: Sendable {
  /// The watch `Sandbox.run` reports to; nil outside a case.
  @TaskLocal public static var current: SandboxRunWatch?

  private let damages = Mutex<[SandboxDamage]>([])

  public init() {}

  /// The first damaged run's damage, or nil when every run so far can be judged.
  public var damage: SandboxDamage? { damages.withLock { $0.first } }

  func watch(_ run: SandboxRun) {
    guard let damage = run.damage else { return }
    damages.withLock { $0.append(damage) }
  }
}

/// How to build a sandbox.
public struct SandboxSpec: Sendable {
  /// Nested user + PID namespace pairs, 1 ... 32.
  public var levels: Int = 1
  /// Write `0 <creator's id> 1` to uid_map and gid_map at each level, so the body is root there.
  public var mapRoot: Bool = true
  /// The whole run, setup included; the sandbox is killed when it expires.
  public var timeoutMilliseconds: Int32 = 10_000
  /// Descriptors the body uses; every other descriptor above 2 is closed in the sandbox.
  public var keepDescriptors: [Int32] = []
  /// `comm` of every sandbox process (at most 15 bytes), so a leak can be found by name.
  public var processName: String = Sandbox.defaultProcessName
  /// The first level is a PID namespace in the caller's own user namespace, not a pair: it needs
  /// CAP_SYS_ADMIN there, and the body runs with the test process's credentials.
  public var inCallersUserNamespace: Bool = false

  public init(
    levels: Int = 1, mapRoot: Bool = true, timeoutMilliseconds: Int32 = 10_000,
    keepDescriptors: [Int32] = [], processName: String = Sandbox.defaultProcessName,
    inCallersUserNamespace: Bool = false
  ) {
    self.levels = levels
    self.mapRoot = mapRoot
    self.timeoutMilliseconds = timeoutMilliseconds
    self.keepDescriptors = keepDescriptors
    self.processName = processName
    self.inCallersUserNamespace = inCallersUserNamespace
  }
}

/// Runs C bodies in fresh user and PID namespaces; no Swift code ever runs in a sandbox process.
public enum Sandbox {
  /// The `comm` sandbox processes carry unless a spec names another.
  public static let defaultProcessName = "pidns-sandbox"

  /// `$PIDNS_TIMEOUT_SCALE`: every sandbox timeout is multiplied by it, for slow emulated
  /// machines (QEMU without KVM runs the suite several times slower). 1 when unset; values
  /// that are not a positive number are refused at the first sandbox with a precondition.
  public static let timeoutScale: Double = {
    guard let text = ProcessInfo.processInfo.environment["PIDNS_TIMEOUT_SCALE"] else { return 1 }
    guard let scale = Double(text), scale > 0, scale <= 1000 else {
      preconditionFailure("PIDNS_TIMEOUT_SCALE=\(text): a positive number up to 1000 is needed")
    }
    return scale
  }()

  static func scaled(_ milliseconds: Int32) -> Int32 {
    Int32(clamping: Int64((Double(milliseconds) * timeoutScale).rounded()))
  }

  /// Runs `body` with a pointer to `argument` in a new sandbox. On x86-64 the sandbox shares
  /// the caller's memory (CLONE_VM), elsewhere it gets a copy: a body must only read it.
  ///
  /// `maxReports` records are kept; more make the run damaged, never silently shorter. The
  /// most any of the 334 cases sent in one run was 37 (measured on 6.18), so 128 leaves room;
  /// a program that restores a tree adds five records per process and two per thread.
  ///
  /// `onReport` sees each record as it arrives, while the sandbox still runs; a body that waits
  /// on a descriptor it keeps can so be inspected from outside before it goes on.
  ///
  /// A run that cannot be judged (`SandboxRun.damage`) is also told to the task's
  /// `SandboxRunWatch`, so the case that made it is BROKEN without its area checking.
  ///
  /// - Throws: the errno of the first clone when the sandbox cannot start at all (user
  ///   namespaces disabled, clone3 blocked, ...). Every other outcome is in the result.
  public static func run<Argument>(
    _ spec: SandboxSpec = SandboxSpec(), body: kabi_sandbox_body, argument: inout Argument,
    maxReports: Int = 128, onReport: (SandboxReport) -> Void = { _ in }
  ) throws(Errno) -> SandboxRun {
    precondition(spec.keepDescriptors.count <= Int(KABI_SANDBOX_KEEP_FDS))
    var raw = kabi_sandbox_spec()
    // Out of 1 ... 32 is kabi_sandbox_run's EINVAL, thrown, not a trap for a negative count.
    raw.levels = UInt32(clamping: spec.levels)
    raw.leave_unmapped = spec.mapRoot ? 0 : 1
    raw.outer_user_ns = spec.inCallersUserNamespace ? 1 : 0
    raw.timeout_ms = Sandbox.scaled(spec.timeoutMilliseconds)
    withUnsafeMutableBytes(of: &raw.keep_fds) { bytes in
      let fds = bytes.bindMemory(to: Int32.self)
      for index in fds.indices {
        fds[index] = index < spec.keepDescriptors.count ? spec.keepDescriptors[index] : -1
      }
    }
    withUnsafeMutableBytes(of: &raw.name) { bytes in
      for (index, byte) in spec.processName.utf8.prefix(bytes.count - 1).enumerated() {
        bytes[index] = byte
      }
    }
    var records = [kabi_report](repeating: kabi_report(), count: maxReports)
    var outcome = kabi_sandbox_outcome()
    let status = withoutActuallyEscaping(onReport) { onReport in
      var listener = onReport
      return withUnsafeMutablePointer(to: &listener) { listenerPointer in
        withUnsafePointer(to: &argument) { argumentPointer in
          records.withUnsafeMutableBufferPointer { buffer in
            kabi_sandbox_run(
              &raw, body, argumentPointer, buffer.baseAddress, UInt32(buffer.count),
              { record, context in
                guard let record, let context else { return }
                let listener = context.assumingMemoryBound(to: ((SandboxReport) -> Void).self)
                listener.pointee(SandboxReport(record.pointee))
              }, listenerPointer, &outcome)
          }
        }
      }
    }
    try Errno.check(status)
    let run = SandboxRun(outcome: outcome, records: records, timeoutMilliseconds: raw.timeout_ms)
    SandboxRunWatch.current?.watch(run)
    return run
  }
}

/// `/proc/<pid>/status`, read by the same C code that sandbox processes report with.
public enum ProcessStatus {
  /// The NSpid line of `/proc/<process>/status` (`self`, or a PID), outermost level first.
  public static func nspid(_ process: String) -> [Int32]? {
    var entries = [Int32](repeating: 0, count: Int(KABI_NSPID_MAX))
    let count = entries.withUnsafeMutableBufferPointer { buffer in
      kabi_read_nspid("/proc/\(process)/status", buffer.baseAddress)
    }
    return count < 0 ? nil : Array(entries.prefix(Int(count)))
  }
}
