import ConformanceSupport
import Foundation
import KernelABI
import Testing

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

  @Test(.needsSandbox)
  func `a caller that held other sets than its row states is BROKEN, not judged on its answer`()
    throws
  {
    var call = try Self.call(
      #"{"shape": "own", "caps": "=", "steps": [{"op": "capset", "caps": "cap_sys_admin=ep"}, {"op": "unshare", "flags": ["CLONE_NEWPID"]}]}"#
    )
    call.shapeDefinition = try Self.shape(suiteUserNamespace: false)
    #expect {
      _ = try call.observe()
    } throws: { error in
      error is CaseBroken && "\(error)".contains("not the stated =")
    }
  }

  @Test func `a row from the initial user namespace without its trait is BROKEN, never run`()
    throws
  {
    var call = try Self.call(#"{"shape": "host", "caps": "="}"#)
    call.shapeDefinition = try Self.shape(suiteUserNamespace: true)
    #expect(throws: CaseBroken.self) { _ = try call.observe() }
  }

  static func call(_ json: String) throws -> CapabilityCall {
    try JSONDecoder().decode(CapabilityCall.self, from: Data(json.utf8))
  }

  static func shape(suiteUserNamespace: Bool) throws -> CapabilityShape {
    let json =
      #"{"about": "a", "pidLevels": [{"ns": "P1", "owner": "U1"}], "caller": "U1", "steps": [], "#
      + #""suiteUserNamespace": \#(suiteUserNamespace)}"#
    return try JSONDecoder().decode(CapabilityShape.self, from: Data(json.utf8))
  }
}
