import CKernelABI
// The fixture and result model (tables, kernel versions, selection) is ConformanceResults';
// every file here and every test that imports this module uses it.
@_exported import ConformanceResults
import Foundation
import KernelABI
import Synchronization

extension ExpectedResult {
  /// The call fails with `errno`.
  public static func failure(_ errno: Errno) -> Self { .error(errno.name) }

  /// The errno a failure names, if this build knows it by that name; nil for success.
  public var errno: Errno? {
    guard case .error(let name) = self else { return nil }
    return Errno(name: name).flatMap { $0.name == name ? $0 : nil }
  }

  /// Like `name`, with the errno's number and message: `EINVAL (22): Invalid argument`.
  var detailed: String { errno?.description ?? name }

  /// Why the suite cannot judge against this result, or nil: an errno name the target's
  /// `<errno.h>` does not have (or an alias, such as `EWOULDBLOCK` for `EAGAIN`).
  var problem: String? {
    if case .error(let name) = self, errno == nil { return Self.unknown(name) }
    return nil
  }
}

extension ConformanceCase {
  /// The first result of the row the suite cannot judge against, with where it stands.
  var resultProblem: String? {
    let results =
      expect.enumerated().map { ("expect[\($0)]", $1.result) }
      + (known ?? []).enumerated().map { ("known[\($0)]", $1.result) }
    return results.lazy.compactMap { place, result in result.problem.map { "\(place): \($0)" } }
      .first
  }
}

extension RunningKernel {
  /// The version parsed from `release`, with the stable patch level from `build` where only
  /// that names it (Debian's 5.10 and 6.1 kernels); nil for a release without `major.minor`.
  public static let version: KernelVersion? = KernelVersion(release: release, build: build)
}

/// Finds and reads the tables in `Fixtures/`.
public enum Fixtures {
  /// `Fixtures/` of this checkout, or `$PIDNS_FIXTURES` (for a test binary copied into a VM).
  public static let directory: URL = {
    if let override = ProcessInfo.processInfo.environment["PIDNS_FIXTURES"] {
      return URL(fileURLWithPath: override, isDirectory: true)
    }
    return URL(fileURLWithPath: #filePath)
      .deletingLastPathComponent()  // ConformanceSupport
      .deletingLastPathComponent()  // Sources
      .deletingLastPathComponent()  // package root
      .appendingPathComponent("Fixtures", isDirectory: true)
  }()

  /// Every case table: each file but `features.json`.
  public static func tableNames() throws -> [String] {
    try FixtureTables.names(in: directory)
  }

  /// Decodes `name` as a table of programs, whole, with each call's prelude, and keeps the rows
  /// `selection` selects (by default the run's `$PIDNS_CASES`). Errors name the file and the
  /// row.
  public static func load(
    _ name: String, from directory: URL = directory,
    selection: CaseSelection? = CaseSelection.current
  ) throws -> FixtureFile<ProgramCall> {
    let key = "\(directory.path)/\(name)"
    // Under the lock, so that suites asking for one table at once decode it once.
    var table = try loaded.withLock { tables in
      if let table = tables[key] { return table }
      var table = try FixtureFile<ProgramCall>.load(name, from: directory)
      table.cases = try table.cases.map { row in
        var row = row
        do {
          row.call = try row.call.using(table.preludes ?? [:])
          if let problem = row.call.problem ?? row.resultProblem
            ?? row.call.failureFieldsProblem(in: row.expect)
          {
            throw ProgramError(problem)
          }
        } catch {
          throw FixtureError(file: name, message: "\(row.id): \(error)")
        }
        return row
      }
      tables[key] = table
      return table
    }
    table.narrow(to: selection)
    return table
  }

  /// Tables already decoded and checked, whole: the catalog's count and each suite's cases
  /// read a table once per process.
  private static let loaded = Mutex<[String: FixtureFile<ProgramCall>]>([:])
}
