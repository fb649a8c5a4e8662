import ConformanceResults
import Testing

@Suite struct Counting {
  @Test func `the console summary has the counts, the skip reasons, and the line CI parses`() {
    #expect(
      sampleLog.consoleSummary() == """
        8 cases: 3 pass, 1 fail, 3 skip (2 feature, 1 environment), 1 known
          2 skip (feature): kernel 6.1 lacks clone3.into_cgroup
          1 skip (environment): user namespaces disabled
        3 passed, 1 failed, 3 skipped
        """)
    #expect(
      sampleLog.consoleSummary(reasonLimit: 1).split(separator: "\n").dropFirst(2).first
        == "  1 more skip reasons in summary.md")
  }

  @Test func `an empty log counts zero everywhere`() {
    #expect(
      ResultLog(cases: []).consoleSummary() == """
        0 cases: 0 pass, 0 fail, 0 skip, 0 known
        0 passed, 0 failed, 0 skipped
        """)
  }

  @Test func `a skip without a kind counts as unspecified`() {
    let tally = Tally([sample("a", .skip, reason: "why")])
    #expect(tally.skipsByKind == ["unspecified": 1])
    #expect(tally.countsLine(withSkipKinds: true).contains("1 skip (1 unspecified)"))
  }

  @Test func `skip reasons are grouped by kind and counted`() {
    #expect(
      sampleLog.skipReasons == [
        SkipReason(kind: "feature", reason: "kernel 6.1 lacks clone3.into_cgroup", count: 2),
        SkipReason(kind: "environment", reason: "user namespaces disabled", count: 1),
      ])
  }
}
