import ConformanceResults
import Testing

@Suite struct Counting {
  @Test func `the console summary has the counts, the skip reasons, and the line CI parses`() {
    #expect(
      sampleLog.consoleSummary() == """
        8 cases: 3 pass, 1 fail, 0 broken, 3 skip (2 feature, 1 environment), 1 known
          FAIL clone3.size.65: expected EINVAL, observed E2BIG; size check moved
          2 skip (feature): kernel 6.1 lacks clone3.into_cgroup
          1 skip (environment): user namespaces disabled
        3 passed, 1 failed, 3 skipped
        """)
    #expect(
      sampleLog.consoleSummary(reasonLimit: 1).split(separator: "\n").dropFirst(3).first
        == "  1 more skip reasons in summary.md")
  }

  @Test func `an empty log counts zero everywhere`() {
    #expect(
      ResultLog(cases: []).consoleSummary() == """
        0 cases: 0 pass, 0 fail, 0 broken, 0 skip, 0 known
        0 passed, 0 failed, 0 skipped
        """)
  }

  @Test func `the console summary shows BROKEN cases and what an incomplete run is missing`() {
    #expect(
      partialLog.consoleSummary() == """
        3 cases: 2 pass, 0 fail, 1 broken, 0 skip, 0 known, of 9 expected
        INCOMPLETE: the run did not complete: 6 of 9 expected cases have no result; 1 fixture \
        failed to load
          ns_last_pid: 4 of 4 expected cases have no result
          set_tid: 2 of 3 expected cases have no result
          fixture failed to load: pid-max.json: .cases[2].call: unknown call 'frob'
          BROKEN set_tid.blocker: clone3 of the blocker process failed with EAGAIN: \
        RLIMIT_NPROC is 30 for uid 1000
        2 passed, 1 failed, 0 skipped
        """)
  }

  @Test func `the closing line keeps its format and counts BROKEN as failed`() {
    let tally = Tally([
      sample("a", .pass), sample("b", .fail), sample("c", .broken, setupFailure: blockerFailure),
      sample("d", .skip, skipKind: .feature), sample("e", .known, knownBug: levelBug),
    ])
    #expect(tally.closingLine == "1 passed, 2 failed, 1 skipped")
    #expect(tally.countsLine() == "5 cases: 1 pass, 1 fail, 1 broken, 1 skip, 1 known")
    #expect(tally.ran == 3)
  }

  @Test func `the counts line names the expected count when the log records it`() {
    #expect(
      completeLog.consoleSummary().hasPrefix(
        "9 cases: 9 pass, 0 fail, 0 broken, 0 skip, 0 known, of 9 expected\n"))
    #expect(sampleLog.consoleSummary().hasPrefix("8 cases: 3 pass, 1 fail, 0 broken, 3 skip"))
    #expect(!sampleLog.consoleSummary().contains("of 8 expected"))
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
