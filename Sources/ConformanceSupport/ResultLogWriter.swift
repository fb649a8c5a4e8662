import ConformanceResults
import Foundation
import Glibc
import KernelABI
import Synchronization

/// Appends records to the result log that every report is rendered from.
///
/// `$PIDNS_RESULT_LOG` names the log (the conformance script sets it, and several test
/// processes may append to one log); a log that was asked for and cannot be written fails
/// every case. Without it, each run replaces `.build/pidns-results/last-run.jsonl` beside the
/// checkout, a convenience: where that is not writable (the bundle run by another user or from
/// another directory) the run says so once and goes on without a log.
public enum ResultLogWriter {
  /// Where this process writes.
  public static let path: String = {
    if let path = requestedPath { return path }
    let directory = Fixtures.directory.deletingLastPathComponent()
      .appendingPathComponent(".build/pidns-results", isDirectory: true)
    do {
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    } catch {
      // Not fatal here: the first append cannot open the log and says so, once.
    }
    let path = directory.appendingPathComponent("last-run.jsonl").path
    unlink(path)
    return path
  }()

  private static let requestedPath = ProcessInfo.processInfo.environment["PIDNS_RESULT_LOG"]

  /// Appends one case result, preceded by the environment record on the first call.
  ///
  /// - Returns: why the log could not be written, when it was asked for; nil otherwise.
  public static func append(_ result: CaseResult) -> String? {
    state.withLock { state in
      if state.unwritableDefault { return nil }
      var failure: String?
      if !state.wroteEnvironment {
        state.wroteEnvironment = true
        failure = write(TestEnvironment.record())
      }
      failure = failure ?? write(result)
      if let failure, requestedPath == nil {
        state.unwritableDefault = true
        FileHandle.standardError.write(
          Data(
            ("pidns-conformance: \(failure); running on without a result log "
              + "(set PIDNS_RESULT_LOG to keep one)\n").utf8))
        return nil
      }
      return failure
    }
  }

  private struct State {
    var wroteEnvironment = false
    var unwritableDefault = false
  }

  private static let state = Mutex(State())

  /// One O_APPEND write per line, so lines from parallel processes never interleave.
  private static func write(_ record: some Encodable) -> String? {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    var data: Data
    do {
      data = try encoder.encode(record)
    } catch {
      return "cannot encode a result log record: \(error)"
    }
    data.append(0x0a)
    let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
    guard fd >= 0 else { return "cannot open the result log \(path): \(Errno(rawValue: errno))" }
    defer { close(fd) }
    let written = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    guard written == data.count else {
      return "cannot append to the result log \(path): \(Errno(rawValue: errno))"
    }
    return nil
  }
}
