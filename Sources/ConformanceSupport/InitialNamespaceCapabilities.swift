import CLibcap
import Glibc
import KernelABI
import Testing

/// A test whose cases need capabilities in the initial user namespace, not in one the sandbox
/// made: where the suite runs below it, or its effective set (read with libcap, never inferred
/// from uid 0) lacks one of them, every case is a SKIP that names them, logged as every
/// verdict is.
public struct InitialNamespaceCapabilities: TestTrait, TestScoping, Sendable {
  /// libcap names, such as `cap_sys_admin`.
  public var names: [String]

  @TaskLocal static var inEffect: InitialNamespaceCapabilities?

  public func provideScope(
    for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
  ) async throws {
    try await Self.$inEffect.withValue(self) { try await function() }
  }

  /// The capabilities as one set.
  var bits: UInt64 { names.compactMap(Self.number).reduce(0) { $0 | 1 << UInt64($1) } }

  /// The number of the capability libcap names `name`; nil for a name it does not know.
  static func number(_ name: String) -> cap_value_t? {
    var value: cap_value_t = 0
    return cap_from_name(name, &value) == 0 ? value : nil
  }

  /// Why the suite cannot act with them here, or nil.
  var unmet: String? {
    let list = names.map { $0.uppercased() }.joined(separator: ", ")
    guard Capabilities.inInitialUserNamespace else {
      return "needs \(list) in the initial user namespace: the suite runs in a user namespace "
        + "below it, whose root holds no capability there"
    }
    let missing = names.filter { Self.number($0).map { !Capabilities.effective($0) } ?? true }
    guard missing.isEmpty else {
      return "needs \(missing.map { $0.uppercased() }.joined(separator: ", ")) in the initial "
        + "user namespace; the suite's effective set is \(Capabilities.text)"
    }
    return nil
  }
}

extension Trait where Self == InitialNamespaceCapabilities {
  /// The cases need these capabilities (libcap names) in the initial user namespace.
  public static func needsInitialUserNamespace(_ names: String...) -> Self {
    InitialNamespaceCapabilities(names: names)
  }
}

extension ProgramCall {
  /// For a call whose first level is in the suite's own user namespace: throws the SKIP when
  /// the test's requirement is not met here, and BROKEN when the test states no requirement or
  /// one that does not cover CAP_SYS_ADMIN (the sandbox's first PID namespace) and every
  /// capability the case holds (in any set it states).
  func requireInitialNamespace() throws {
    guard inSuiteUserNamespace == true else { return }
    let held = try statedSets().values.reduce(0) {
      $0 | $1.effective | $1.permitted | $1.inheritable | $1.ambient
    }
    guard let requirement = InitialNamespaceCapabilities.inEffect else {
      throw CaseBroken(
        step: "run a case from the initial user namespace under its "
          + ".needsInitialUserNamespace trait, which this test does not state")
    }
    if let unmet = requirement.unmet { throw CaseSkip(.privilege, unmet) }
    guard requirement.bits & (1 << UInt64(CAP_SYS_ADMIN)) != 0, held & ~requirement.bits == 0 else {
      throw CaseBroken(
        step: "state CAP_SYS_ADMIN and every capability the case holds in its "
          + ".needsInitialUserNamespace trait (it states \(requirement.names))")
    }
  }
}
