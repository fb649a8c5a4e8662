import Foundation
import KernelABI
import Testing

@testable import ConformanceResults
@testable import ConformanceSupport

/// How an observation becomes PASS, FAIL or KNOWN: the exact result, PIDs included, or a
/// documented kernel bug; never anything looser.
@Suite struct VerdictTests {
  @Test func `the expected errno passes`() {
    #expect(verdict(expect: "EINVAL", observed: .failed(.EINVAL)).status == .pass)
  }

  @Test func `a wrong errno fails, naming both`() {
    let verdict = verdict(expect: "EINVAL", observed: .failed(.E2BIG))
    #expect(verdict.status == .fail)
    #expect(
      verdict.reason
        == "expected EINVAL (22): Invalid argument, observed E2BIG (7): Argument list too long")
  }

  @Test func `a success where an errno was expected fails`() {
    let verdict = verdict(expect: "EEXIST", observed: .succeeded(pid: 1, nspid: [1]))
    #expect(verdict.status == .fail)
    #expect(verdict.reason?.contains("observed success (pid 1, NSpid 1)") == true)
  }

  @Test func `a success with other PIDs than asked for fails`() {
    #expect(
      verdict(expect: "success", pid: 500, observed: .succeeded(pid: 501, nspid: nil)).status
        == .fail)
    #expect(
      verdict(expect: "success", nspid: [500, 1], observed: .succeeded(pid: 1, nspid: [500, 2]))
        .status == .fail)
    #expect(
      verdict(
        expect: "success", pid: 1, nspid: [500, 1], observed: .succeeded(pid: 1, nspid: [500, 1])
      )
      .status == .pass)
  }

  @Test func `any named field is matched exactly, and a field not observed fails`() throws {
    var row = self.row(expect: "success")
    row.expect[0].fields = ["nstype": .number(0x2000_0000), "cgroup": .word("/a")]
    let observed = Observation.success(["nstype": .number(0x2000_0000), "cgroup": .word("/a")])
    #expect(Conformance.judge(row, expected: row.expect[0], observed: observed).status == .pass)
    #expect(observed.description == "success (cgroup /a, nstype 536870912)")
    let missing = Observation.success(["nstype": .number(0x2000_0000)])
    #expect(Conformance.judge(row, expected: row.expect[0], observed: missing).status == .fail)
    let json = #"{"result": "success", "nstype": 536870912, "nspid": [5, 1], "why": "w"}"#
    let decoded = try JSONDecoder().decode(Expectation.self, from: Data(json.utf8))
    #expect(decoded.fields == ["nstype": .number(536_870_912), "nspid": .numbers([5, 1])])
    #expect(decoded.spelled == "success (NSpid 5 1, nstype 536870912)")
  }

  @Test func `a failure the program went on after carries what the later steps found`() throws {
    let call = try JSONDecoder().decode(
      ProgramCall.self,
      from: Data(
        #"{"steps": [{"op": "send-signal", "goOn": true}, {"op": "running", "field": "secondRunning"}]}"#
          .utf8))
    var row = self.row(expect: "ESRCH")
    row.expect[0].fields = ["secondRunning": .number(1)]
    func observed(running: Int64) throws -> Observation {
      let first = ProgramCall.record(ofStep: 0)
      let records = [
        CapabilitySetsTests.report(.call, step: first, name: "send-signal", value: -3),
        CapabilitySetsTests.report(.call, step: first + 1, name: "running", value: running),
      ]
      return try call.observation(of: CapabilitySetsTests.run(records))
    }
    #expect(try observed(running: 1).description == "ESRCH (secondRunning 1)")
    #expect(
      Conformance.judge(row, expected: row.expect[0], observed: try observed(running: 1)).status
        == .pass)
    // The refused signal reached the other process after all.
    let reached = Conformance.judge(
      row, expected: row.expect[0], observed: try observed(running: 0))
    #expect(reached.status == .fail)
    #expect(reached.reason == "expected ESRCH (secondRunning 1), observed ESRCH (secondRunning 0)")
  }

  @Test func `a PID without a process behind it fails`() {
    let broken = Observation.broken("clone3 returned 500 but no process reported back")
    #expect(verdict(expect: "success", pid: 500, observed: broken).status == .fail)
  }

  @Test func `a result a known bug predicts on this kernel is KNOWN, with the bug`() throws {
    let kernel = try #require(RunningKernel.version)
    let bug = KnownBug(title: "nsfs answers ENOTTY for a missing task", report: "725ecd80688b")
    var row = self.row(expect: "ESRCH")
    row.known = [
      KnownBugExpectation(
        kernels: [KernelRange(from: kernel, until: nil)], result: .failure(.ENOTTY), bug: bug)
    ]
    let known = Conformance.judge(row, expected: row.expect[0], observed: .failed(.ENOTTY))
    #expect(known.status == .known)
    #expect(known.knownBug == bug)
    let other = Conformance.judge(row, expected: row.expect[0], observed: .failed(.EPERM))
    #expect(other.status == .fail)
  }

  @Test func `a known success with the wrong fields is KNOWN only with exactly those fields`()
    throws
  {
    let kernel = try #require(RunningKernel.version)
    let bug = KnownBug(title: "the descriptor is always close-on-exec", report: "f07c7cc4684a")
    var row = self.row(expect: "success")
    row.expect[0].fields = ["cloexec": .number(0)]
    row.known = [
      KnownBugExpectation(
        kernels: [KernelRange(from: kernel)], result: .success, fields: ["cloexec": .number(1)],
        bug: bug)
    ]
    let buggy = Observation.success(["cloexec": .number(1)])
    #expect(Conformance.judge(row, expected: row.expect[0], observed: buggy).status == .known)
    let other = Observation.success(["cloexec": .number(2)])
    #expect(Conformance.judge(row, expected: row.expect[0], observed: other).status == .fail)
    #expect(
      row.knownBugLines == [
        "the descriptor is always close-on-exec (f07c7cc4684a), on \(kernel)+: success (cloexec 1)"
      ])
  }

  @Test func `a failed case names the bugs documented for it on other kernels`() {
    var row = self.row(expect: "ESRCH")
    row.known = [
      KnownBugExpectation(
        kernels: [KernelRange(from: KernelVersion(6, 9), until: KernelVersion(6, 11))],
        result: .failure(.ENOTTY),
        bug: KnownBug(title: "nsfs answers ENOTTY for a missing task", report: "725ecd80688b"))
    ]
    #expect(
      row.knownBugLines == [
        "nsfs answers ENOTTY for a missing task (725ecd80688b), on 6.9..<6.11: ENOTTY"
      ])
  }

  /// The first KNOWN entry, against the kernels on both sides of each of its boundaries: the
  /// release candidates of 7.1 before the fix included, as kernel CI boots them.
  @Test(arguments: [
    ("6.11.11", false), ("6.12", true), ("6.12.91", true), ("6.12.92", false), ("6.13", true),
    ("6.18.33", true), ("6.18.34", false), ("6.19.14", true), ("7.0-rc3", true),
    ("7.0.10", true), ("7.0.11", false), ("7.1-rc1", true), ("7.1-rc4", true),
    ("7.1-rc5", false), ("7.1.0", false), ("7.2.13", false),
  ])
  func `the translation ENOTTY bug is KNOWN on exactly the kernels it affects`(
    release: String, affected: Bool
  ) throws {
    let table = try Fixtures.load("nsfs-translate.json", selection: nil)
    let row = try #require(table.cases.first { $0.id == "nsfs.translate.pid-in.own.absent" })
    let kernel = try #require(KernelVersion(release: release))
    #expect((row.knownBug(for: kernel, observed: .failure(.ENOTTY)) != nil) == affected)
  }

  @Test func `the expectation is chosen by kernel range`() throws {
    let kernel = try #require(RunningKernel.version)
    var row = self.row(expect: "EINVAL")
    row.expect = [
      Expectation(kernels: KernelRange(from: nil, until: kernel), result: .failure(.EINVAL)),
      Expectation(kernels: KernelRange(from: kernel, until: nil), result: .failure(.EPERM)),
    ]
    #expect(row.expectation(for: kernel)?.result == .failure(.EPERM))
    #expect(row.expectation(for: KernelVersion(5, 5))?.result == .failure(.EINVAL))
  }

  @Test func `a case with no expectation for this kernel skips with the ranges it has`() throws {
    let kernel = try #require(RunningKernel.version)
    var row = self.row(expect: "EINVAL")
    row.expect = [Expectation(kernels: KernelRange(until: kernel), result: .failure(.EINVAL))]
    #expect {
      _ = try Conformance.applicableExpectation(row)
    } throws: { error in
      guard let skip = error as? CaseSkip else { return false }
      return skip.kind == .feature && skip.reason.contains("stated for <\(kernel)")
    }
  }

  @Test func `a feature the probe cannot find fails on a kernel that must have it`() throws {
    let kernel = try #require(RunningKernel.version)
    var row = self.row(expect: "EINVAL")
    row.feature = "clone3.example"
    let absent: (String) -> FeatureState = { _ in .absent("clone3 answered ENOSYS") }
    func definition(since: KernelVersion, removedIn: [DistroRemoval]? = nil) -> [String:
      FeatureDefinition<FeatureProbe>]
    {
      [
        "clone3.example": FeatureDefinition(
          name: "clone3.example", since: since, what: "w",
          probe: FeatureProbe(kind: .file(path: "/")),
          removedIn: removedIn)
      ]
    }

    #expect(throws: FeatureMissing.self) {
      _ = try Conformance.applicableExpectation(
        row, featureState: absent, definitions: definition(since: kernel))
    }
    #expect {
      _ = try Conformance.applicableExpectation(
        row, featureState: absent, definitions: definition(since: KernelVersion(99, 0)))
    } throws: { ($0 as? CaseSkip)?.kind == .feature }
    let removal = DistroRemoval(releaseContains: RunningKernel.release, why: "built without it")
    #expect {
      _ = try Conformance.applicableExpectation(
        row, featureState: absent, definitions: definition(since: kernel, removedIn: [removal]))
    } throws: { ($0 as? CaseSkip)?.reason.contains("built without it") == true }
    #expect {
      _ = try Conformance.applicableExpectation(
        row, featureState: { _ in .blocked("seccomp") }, definitions: definition(since: kernel))
    } throws: { ($0 as? CaseSkip)?.kind == .environment }
  }

  @Test func `an unexpected EAGAIN under a small pids.max of the suite's cgroup is BROKEN`() throws
  {
    let success = row(expect: "success").expect[0]
    #expect {
      try Conformance.requireOwnLimitsNotHit(
        .failed(.EAGAIN), expected: success, nprocLimit: -1, pidsLimit: { 1024 })
    } throws: { error in
      "\(error)".contains("pids.max 1024")
    }
    // Without a limit of its own in the way, EAGAIN is the kernel's answer, judged as such.
    try Conformance.requireOwnLimitsNotHit(
      .failed(.EAGAIN), expected: success, nprocLimit: -1, pidsLimit: { nil })
    try Conformance.requireOwnLimitsNotHit(
      .failed(.EAGAIN), expected: row(expect: "EAGAIN").expect[0], nprocLimit: -1,
      pidsLimit: { 1024 })
    // A pids.max that cannot be read leaves the premise unknown: BROKEN, naming what.
    #expect {
      try Conformance.requireOwnLimitsNotHit(
        .failed(.EAGAIN), expected: success, nprocLimit: -1,
        pidsLimit: { () throws(OwnCgroup.UnknownLimit) in
          throw OwnCgroup.UnknownLimit(description: "/sys/fs/cgroup/ci/pids.max: EACCES")
        })
    } throws: { error in
      error is CaseBroken && "\(error)".contains("pids.max unknown, /sys/fs/cgroup/ci/pids.max")
    }
  }

  private func row(expect result: String) -> ConformanceCase<ProgramCall> {
    let json = #"""
      {"id": "t.x", "title": "t", "call": {"steps": [{"op": "clone3"}]},
      "expect": [{"result": "\#(result)"}]}
      """#
    // The fixture is a literal above; decoding it cannot fail unless the schema changed.
    return (try? JSONDecoder().decode(ConformanceCase<ProgramCall>.self, from: Data(json.utf8)))
      ?? { preconditionFailure("the test row no longer decodes") }()
  }

  private func verdict(
    expect result: String, pid: Int32? = nil, nspid: [Int32]? = nil, observed: Observation
  ) -> Verdict {
    var row = self.row(expect: result)
    row.expect[0].fields["pid"] = pid.map { .number(Int64($0)) }
    row.expect[0].fields["nspid"] = nspid.map { .numbers($0.map(Int64.init)) }
    return Conformance.judge(row, expected: row.expect[0], observed: observed)
  }
}
