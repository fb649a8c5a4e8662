import ConformanceResults
import Testing

@Suite struct MarkdownReport {
  @Test func `the title names the kernel and the counts line follows`() {
    let lines = sampleLog.markdown().split(separator: "\n", omittingEmptySubsequences: false)
    #expect(lines.first == "# PID-namespace conformance on Linux 6.1.0 (x86_64)")
    #expect(lines.contains("8 cases: 3 pass, 1 fail, 0 broken, 3 skip, 1 known"))
  }

  @Test func `a selection is stated before the counts`() throws {
    let text = sampleLog.markdown(selection: "filter: SetTid")
    let note = "Selection: filter 'SetTid' — counts cover only the selected cases"
    let noteRange = try #require(text.range(of: note))
    let countsRange = try #require(text.range(of: "8 cases:"))
    #expect(noteRange.upperBound < countsRange.lowerBound)
    #expect(!sampleLog.markdown().contains("Selection:"))
  }

  @Test func `skip reasons, limitations, areas, failures and known bugs are listed`() {
    let text = sampleLog.markdown()
    for expected in [
      "3 skip: 2 feature, 1 environment",
      "- feature: kernel 6.1 lacks clone3.into_cgroup (2)",
      "- environment: user namespaces disabled (1)",
      "- user namespaces disabled (user.max_user_namespaces = 0)",
      "| clone3.size | 2 | 1 | 0 | 0 | 0 |",
      "| clone3.cgroup | 0 | 0 | 0 | 2 | 0 |",
      "| set_tid | 1 | 0 | 0 | 1 | 1 |",
      "- `clone3.size.65` clone3.size.65 behaves: expected EINVAL, observed E2BIG\n"
        + "  - size check moved\n",
      "- `set_tid.level` set_tid.level behaves: set_tid ignores the namespace level — "
        + "https://lore.kernel.org/r/1; fixed by 0123abcd (stable: 6.1.y (6.1.80))",
    ] {
      #expect(text.contains(expected), "\(expected)")
    }
  }

  @Test func `a pipe in an area name does not break the table`() {
    let log = ResultLog(cases: [sample("a", .pass, area: "x|y")])
    #expect(log.markdown().contains("| x\\|y | 1 | 0 | 0 | 0 | 0 |"))
  }

  @Test func `markup in a title or reason is shown as text, on its own line`() {
    let log = ResultLog(cases: [
      sample(
        "a.b", .fail, area: "a", title: "# set_tid <none>", observed: "EPERM",
        reason: "`x` *y* _z_\r\n- w")
    ])
    let text = log.markdown()
    #expect(text.contains("- `a.b` \\# set_tid \\<none>: expected EINVAL, observed EPERM\n"))
    #expect(text.contains("  - \\`x\\` \\*y\\* \\_z\\_ - w\n"))
  }

  @Test func `BROKEN cases are listed with their step, errno and likely cause`() {
    let text = partialLog.markdown()
    #expect(
      text.contains(
        "## Broken: the case's own setup failed, not the kernel\n\n"
          + "- `set_tid.blocker` set_tid.blocker behaves — step: clone3 of the blocker process; "
          + "errno: EAGAIN; likely cause: RLIMIT_NPROC is 30 for uid 1000\n"))
    #expect(text.contains("| set_tid | 0 | 0 | 1 | 0 | 0 |"))
    #expect(!text.contains("## Failures"))
  }

  @Test func `an incomplete run says so before anything that could read as clean`() throws {
    let text = partialLog.markdown()
    #expect(text.contains("3 cases: 2 pass, 0 fail, 1 broken, 0 skip, 0 known, of 9 expected"))
    #expect(
      text.contains(
        """
        ## INCOMPLETE

        **The run did not complete: 6 of 9 expected cases have no result; 1 fixture failed to \
        load.**

        - `ns_last_pid`: 4 of 4 expected cases have no result
        - `set_tid`: 2 of 3 expected cases have no result
        - fixture failed to load: pid-max.json: .cases[2].call: unknown call 'frob'
        """))
    let incomplete = try #require(text.range(of: "## INCOMPLETE"))
    let areas = try #require(text.range(of: "## Areas"))
    #expect(incomplete.upperBound < areas.lowerBound)
    #expect(!completeLog.markdown().contains("INCOMPLETE"))
    #expect(
      completeLog.markdown().contains(
        "9 cases: 9 pass, 0 fail, 0 broken, 0 skip, 0 known, of 9 expected"))
  }

  @Test func `in a selection an area without results was not selected`() {
    let text = partialLog.markdown(selection: "filter: SetTid")
    #expect(text.contains("of 5 expected"))
    #expect(text.contains("- `set_tid`: 2 of 3 expected cases have no result"))
    #expect(!text.contains("ns_last_pid"))
  }

  @Test func `the header gives the version a Debian kernel was judged as`() {
    var environment = sampleEnvironment
    environment.kernel = "5.10.0-32-cloud-amd64"
    environment.kernelVersion = "5.10.223"
    let text = ResultLog(cases: sampleLog.cases, environments: [environment]).markdown()
    #expect(
      text.contains(
        "- Kernel: 5.10.0-32-cloud-amd64 (x86_64), judged as 5.10.223 (read from `uname -v`, "
          + "where Debian names its stable update or release candidate), the suite at "
          + "PID-namespace level 0"))
    environment.kernel = "7.2.13+deb14-cloud-amd64"
    environment.kernelVersion = "7.2.13"
    let same = ResultLog(cases: sampleLog.cases, environments: [environment]).markdown()
    #expect(same.contains("- Kernel: 7.2.13+deb14-cloud-amd64 (x86_64), the suite at"))
    environment.kernel = "7.3-cloud-amd64"
    environment.kernelVersion = "7.3-rc7"
    let candidate = ResultLog(cases: sampleLog.cases, environments: [environment]).markdown()
    #expect(candidate.contains("- Kernel: 7.3-cloud-amd64 (x86_64), judged as 7.3-rc7 (read from"))
  }

  @Test func `the header names the revision, the kernel, the setting and the probed features`() {
    var environment = sampleEnvironment
    environment.suiteRevision = "v1.2-3-gabcdef0"
    environment.setting = "unprivileged (uid 1000) in the initial user namespace"
    let text = ResultLog(cases: sampleLog.cases, environments: [environment]).markdown()
    #expect(
      text.contains(
        """
        - Suite: v1.2-3-gabcdef0
        - Kernel: 6.1.0 (x86_64), the suite at PID-namespace level 0
        - Setting: unprivileged (uid 1000) in the initial user namespace
        - Features present: clone3.set_tid
        - Feature missing: clone3.into_cgroup
        """))
  }

  @Test func `the header says why a feature is missing and which settings decide skips`() {
    var environment = sampleEnvironment
    environment.featureEvidence = ["clone3.into_cgroup": "absent: cgroup field answered E2BIG"]
    environment.facts = ["user.max_user_namespaces": "0", "RLIMIT_NPROC": "unlimited"]
    let text = ResultLog(cases: sampleLog.cases, environments: [environment]).markdown()
    #expect(
      text.contains(
        """
        - Feature missing: clone3.into_cgroup (absent: cgroup field answered E2BIG)
        - Kernel and machine facts: RLIMIT_NPROC = unlimited; user.max_user_namespaces = 0
        """))
  }

  @Test func `a failure states expected against observed once, then why and the feature`() {
    let failure = CaseResult(
      id: "clone3.size.63", area: "clone3.size", title: "clone3 with size 63 fails with EINVAL",
      status: .fail, expected: "EINVAL", observed: "E2BIG",
      reason: "expected EINVAL (22): Invalid argument, observed E2BIG (7): Argument list too long",
      why: "copy_clone_args_from_user(): size < CLONE_ARGS_SIZE_VER0", feature: "clone3.set_tid",
      kernel: "6.1.0", durationSeconds: 0.1)
    let text = ResultLog(cases: [failure], environments: [sampleEnvironment]).markdown()
    #expect(
      text.contains(
        """
        ## Failures

        - `clone3.size.63` clone3 with size 63 fails with EINVAL: expected EINVAL, observed E2BIG
          - why EINVAL: copy_clone_args_from_user(): size < CLONE_ARGS_SIZE_VER0
          - needs clone3.set_tid (probed: present)
        """))
    #expect(text.components(separatedBy: "observed E2BIG").count == 2)
  }

  @Test func `a failure lists the bugs documented for the case on other kernels`() {
    let failure = CaseResult(
      id: "nsfs.x", area: "nsfs", title: "t", status: .fail, expected: "ESRCH", observed: "ENOTTY",
      kernel: "6.1.0", durationSeconds: 0.1,
      knownElsewhere: ["nsfs answers ENOTTY (725ecd80688b), on 6.9...6.11: ENOTTY"])
    let text = ResultLog(cases: [failure], environments: [sampleEnvironment]).markdown()
    #expect(
      text.contains(
        "  - known bug on other kernels: nsfs answers ENOTTY (725ecd80688b), on 6.9...6.11: ENOTTY")
    )
  }
}
