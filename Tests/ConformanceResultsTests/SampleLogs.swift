import ConformanceResults

/// A case with the fields a test does not care about filled in.
func sample(
  _ id: String, _ status: CaseStatus, area: String = "clone3.size", title: String? = nil,
  expected: String? = "EINVAL", observed: String? = "EINVAL", reason: String? = nil,
  skipKind: SkipKind? = nil, feature: String? = nil, knownBug: KnownBug? = nil,
  setupFailure: SetupFailure? = nil, kernel: String = "6.1.0"
) -> CaseResult {
  CaseResult(
    id: id, area: area, title: title ?? "\(id) behaves", status: status, expected: expected,
    observed: status == .skip || status == .broken ? nil : observed, reason: reason,
    skipKind: skipKind, feature: feature, knownBug: knownBug, setupFailure: setupFailure,
    kernel: kernel, durationSeconds: 0.25)
}

let levelBug = KnownBug(
  title: "set_tid ignores the namespace level", report: "https://lore.kernel.org/r/1",
  fixedBy: "0123abcd", stable: ["6.1.y (6.1.80)"])

let sampleEnvironment = EnvironmentRecord(
  kernel: "6.1.0", machine: "x86_64", pidNamespaceLevel: 0,
  features: ["clone3.set_tid": true, "clone3.into_cgroup": false],
  limitations: ["user namespaces disabled (user.max_user_namespaces = 0)"])

/// Three areas holding every status: 3 pass, 1 fail, 3 skip (2 feature, 1 environment), 1 known.
let sampleLog = ResultLog(
  cases: [
    sample("clone3.size.63", .pass),
    sample("clone3.size.65", .fail, observed: "E2BIG", reason: "size check moved"),
    sample("clone3.size.88", .pass),
    sample(
      "clone3.cgroup.fd", .skip, area: "clone3.cgroup",
      reason: "kernel 6.1 lacks clone3.into_cgroup", skipKind: .feature,
      feature: "clone3.into_cgroup"),
    sample(
      "clone3.cgroup.bad", .skip, area: "clone3.cgroup",
      reason: "kernel 6.1 lacks clone3.into_cgroup", skipKind: .feature,
      feature: "clone3.into_cgroup"),
    sample(
      "set_tid.userns", .skip, area: "set_tid", reason: "user namespaces disabled",
      skipKind: .environment),
    sample("set_tid.level", .known, area: "set_tid", observed: "success", knownBug: levelBug),
    sample("set_tid.one", .pass, area: "set_tid", feature: "clone3.set_tid"),
  ],
  environments: [sampleEnvironment])

let blockerFailure = SetupFailure(
  step: "clone3 of the blocker process", errno: "EAGAIN",
  cause: "RLIMIT_NPROC is 30 for uid 1000")

/// What the fixtures define: 2 clone3.size cases, 3 set_tid, 4 ns_last_pid (9 in all); and
/// pid-max.json did not load.
let partialEnvironment = EnvironmentRecord(
  kernel: "6.1.0", machine: "x86_64", pidNamespaceLevel: 0, features: [:], limitations: [],
  expectedCases: ["clone3.size": 2, "set_tid": 3, "ns_last_pid": 4],
  fixtureErrors: ["pid-max.json: .cases[2].call: unknown call 'frob'"])

/// A run killed midway: clone3.size complete (2 pass), set_tid with 1 of 3 results (BROKEN),
/// ns_last_pid without any, and a fixture that failed to load.
let partialLog = ResultLog(
  cases: [
    sample("clone3.size.63", .pass),
    sample("clone3.size.64", .pass),
    sample(
      "set_tid.blocker", .broken, area: "set_tid", reason: "the blocker never started",
      setupFailure: blockerFailure),
  ],
  environments: [partialEnvironment])

/// A complete run of the same fixtures, with every fixture loaded: 9 cases, all PASS.
let completeEnvironment = EnvironmentRecord(
  kernel: "6.1.0", machine: "x86_64", pidNamespaceLevel: 0, features: [:], limitations: [],
  expectedCases: ["clone3.size": 2, "set_tid": 3, "ns_last_pid": 4])

let completeLog = ResultLog(
  cases: [
    sample("clone3.size.63", .pass), sample("clone3.size.64", .pass),
    sample("set_tid.blocker", .pass, area: "set_tid"),
    sample("set_tid.one", .pass, area: "set_tid"),
    sample("set_tid.two", .pass, area: "set_tid"),
  ] + (1...4).map { sample("ns_last_pid.\($0)", .pass, area: "ns_last_pid") },
  environments: [completeEnvironment])
