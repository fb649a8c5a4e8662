import KernelABI
import Testing

@testable import ConformanceSupport

/// The capability table catches the kernels it is written against: one that stops honouring
/// CAP_CHECKPOINT_RESTORE, and one that checks a capability against the caller's own user
/// namespace instead of the one owning the PID namespace.
@Suite struct CapabilityVerdictTests {
  /// A kernel after the 5.9 boundary, as every row written for CAP_CHECKPOINT_RESTORE needs.
  static let kernel = KernelVersion(6, 12)

  @Test func `a kernel that ignores CAP_CHECKPOINT_RESTORE fails each row that relies on it`()
    throws
  {
    let rows = try Self.table().filter { row in
      Self.caps(of: row) == "cap_checkpoint_restore=ep"
        && row.expectation(for: Self.kernel)?.result == .success
    }
    let operations = Set(rows.map { $0.id.split(separator: ".")[1] })
    #expect(operations.isSuperset(of: ["set_tid", "ns_last_pid"]))
    for row in rows {
      let verdict = Conformance.judge(
        row, expected: try #require(row.expectation(for: Self.kernel)), observed: .failed(.EPERM))
      #expect(verdict.status == .fail, "\(row.id)")
    }
    #expect(rows.count >= 10)
  }

  @Test
  func `a kernel that asks the caller's own user namespace fails where another owns the level`()
    throws
  {
    // The caller holds every capability in its own user namespace, but none over the owner.
    let rows = try Self.table().filter { row in
      ["outer-ancestor", "two-deep", "sibling-outside"].contains(row.call.use)
        && Self.caps(of: row) == "=ep"
        && row.expectation(for: Self.kernel)?.result == .failure(.EPERM)
    }
    #expect(!rows.isEmpty)
    for row in rows {
      let verdict = Conformance.judge(
        row, expected: try #require(row.expectation(for: Self.kernel)),
        observed: .succeeded(pid: 600, nspid: [600]))
      #expect(verdict.status == .fail, "\(row.id)")
    }
    #expect(rows.count >= 4)
  }

  static func table() throws -> [ConformanceCase<ProgramCall>] {
    try Fixtures.load("capabilities.json", selection: nil).cases
  }

  /// The sets the row's last capset gives the caller before its call, as libcap text.
  static func caps(of row: ConformanceCase<ProgramCall>) -> String? {
    guard case .text(let text)? = row.call.steps.last(where: { $0.op == "capset" })?.args["caps"]
    else { return nil }
    return text
  }
}
