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
    let rows = try CapabilityTable.load().cases.filter { row in
      row.call.caps == "cap_checkpoint_restore=ep"
        && row.expectation(for: Self.kernel)?.result == .success
    }
    let operations = Set(rows.map { $0.id.split(separator: ".")[1] })
    #expect(operations.isSuperset(of: ["set_tid", "ns_last_pid"]))
    for row in rows {
      let verdict = Conformance.judge(
        row, expected: row.expectation(for: Self.kernel), observed: .failed(.EPERM))
      #expect(verdict.status == .fail, "\(row.id)")
    }
  }

  @Test
  func `a kernel that asks the caller's own user namespace fails where another owns the level`()
    throws
  {
    // The caller holds every capability in its own user namespace, but none over the owner.
    let rows = try CapabilityTable.load().cases.filter { row in
      ["outer-ancestor", "two-deep", "sibling-outside"].contains(row.call.shape)
        && row.call.caps == nil
        && row.expectation(for: Self.kernel)?.result == .failure(.EPERM)
    }
    #expect(!rows.isEmpty)
    for row in rows {
      let verdict = Conformance.judge(
        row, expected: row.expectation(for: Self.kernel),
        observed: .succeeded(pid: 600, nspid: [600]))
      #expect(verdict.status == .fail, "\(row.id)")
    }
  }
}
