import CKernelABI
import Foundation
import Testing

@testable import ConformanceSupport
@testable import KernelABI

/// The capability matrix trusts two things of its own: libcap's text becomes the masks capset
/// takes, and a caller that did not hold the stated sets, or a row from the initial user
/// namespace run without its trait, is never judged on its answer.
@Suite struct CapabilitySetsTests {
  @Test func `libcap text becomes the raw masks capset takes, bit n for capability n`() throws {
    #expect(
      try CapabilitySets(text: "cap_checkpoint_restore=ep")
        == CapabilitySets(effective: 1 << 40, permitted: 1 << 40, inheritable: 0))
    #expect(
      try CapabilitySets(text: "cap_sys_admin=p")
        == CapabilitySets(effective: 0, permitted: 1 << 21, inheritable: 0))
    #expect(
      try CapabilitySets(text: "cap_sys_admin=i")
        == CapabilitySets(effective: 0, permitted: 0, inheritable: 1 << 21))
    #expect(
      try CapabilitySets(text: "=") == CapabilitySets(effective: 0, permitted: 0, inheritable: 0))
    let ambient = try CapabilitySets(
      text: "cap_checkpoint_restore=ip", ambient: ["cap_checkpoint_restore"])
    #expect(ambient.ambient == 1 << 40 && ambient.effective == 0)
  }

  @Test func `capability text libcap does not know is refused, quoting it`() {
    #expect {
      _ = try CapabilitySets(text: "cap_warp_drive=ep")
    } throws: { error in
      "\(error)".contains("cap_warp_drive")
    }
  }

  @Test func `a caller that held other sets than its capset states is BROKEN, not judged`()
    throws
  {
    let call = try Self.call(
      #"{"steps": [{"op": "capset", "args": {"caps": "cap_sys_admin=ep"}, "setup": true}, {"op": "unshare", "args": {"flags": ["CLONE_NEWPID"]}}]}"#
    )
    let step = Int32(KABI_PROGRAM_FIRST_STEP)
    let held: [(String, Int64)] = [
      ("effective", 0), ("permitted", 1 << 21), ("inheritable", 0), ("ambient", 0),
    ]
    let run = Self.run(
      [Self.report(.call, step: step, name: "capset")]
        + held.map { Self.report(.field, step: step, name: $0.0, value: $0.1) }
        + [Self.report(.call, step: step + 1, name: "unshare")])
    #expect(call.premiseProblem(in: run)?.contains("not the stated \"cap_sys_admin=ep\"") == true)
    #expect {
      _ = try call.observation(of: run)
    } throws: { error in
      error is CaseBroken && "\(error)".contains("e 0x0 p 0x200000")
    }
  }

  @Test(.needsSandbox)
  func `a caller whose prelude's premise did not hold is BROKEN, not judged on its answer`()
    throws
  {
    // The sandbox's own user namespace owns its PID namespace (activeOwner 1), not another.
    let table = try Self.table(
      #"{"about": "a", "premises": {"pidLevels": 1, "activeOwner": 0}, "steps": []}"#,
      row: #"{"use": "p", "steps": [{"op": "capset", "args": {"caps": "=ep"}, "setup": true}]}"#)
    #expect {
      _ = try table.cases[0].call.observe()
    } throws: { error in
      error is CaseBroken && "\(error)".contains("activeOwner 1, where the prelude \"p\" needs 0")
    }
  }

  @Test func `a row from the initial user namespace without its trait is BROKEN, never run`()
    throws
  {
    let table = try Self.table(
      #"{"about": "a", "inSuiteUserNamespace": true, "steps": []}"#,
      row: #"{"use": "p", "steps": [{"op": "capset", "args": {"caps": "="}, "setup": true}]}"#)
    #expect(table.cases[0].call.inSuiteUserNamespace == true)
    #expect(throws: CaseBroken.self) { _ = try table.cases[0].call.observe() }
  }

  static func call(_ json: String) throws -> ProgramCall {
    try JSONDecoder().decode(ProgramCall.self, from: Data(json.utf8))
  }

  /// A table whose one row uses the prelude `p`, loaded as the suite loads its tables.
  static func table(_ prelude: String, row: String) throws -> FixtureFile<ProgramCall> {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "preludes-\(getpid())-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let json =
      #"{"area": "t", "summary": "s", "tags": [], "preludes": {"p": \#(prelude)}, "cases": [{"id": "t.a", "#
      + #""title": "t", "call": \#(row), "expect": [{"result": "success"}]}]}"#
    try Data(json.utf8).write(to: directory.appendingPathComponent("t.json"))
    return try Fixtures.load("t.json", from: directory, selection: nil)
  }

  static func report(
    _ tag: SandboxReport.Tag, step: Int32, name: String, value: Int64 = 0
  ) -> kabi_report {
    var raw = kabi_report()
    raw.tag = tag.rawValue
    raw.step = step
    raw.level = 1
    raw.nspid_count = 1
    raw.nspid.0 = 1
    raw.value = value
    withUnsafeMutableBytes(of: &raw.name) { bytes in
      for (index, byte) in name.utf8.enumerated() { bytes[index] = byte }
    }
    return raw
  }

  static func run(_ records: [kabi_report]) -> SandboxRun {
    var outcome = kabi_sandbox_outcome()
    outcome.pid = 1
    outcome.wait_code = Int32(CLD_EXITED)
    outcome.report_count = UInt32(records.count)
    return SandboxRun(outcome: outcome, records: records, timeoutMilliseconds: 10_000)
  }
}
