import ConformanceResults
import Foundation
import ReportCommandLine
import Testing

/// Three runs of one fixture table: 6.19 and 7.0 as root, 7.0 in a user namespace. One case
/// changes errno at 7.0 with its expectation, one skips only in the user namespace, one fails
/// only on 7.0 as root, one needs a feature 6.19 lacks, one is the same everywhere, and one
/// passes everywhere with a PID that follows each kernel's pid_max.
private func column(_ kernel: String, _ setting: String, _ release: String, _ cases: [CaseResult])
  -> KernelMatrix.Column
{
  let environment = EnvironmentRecord(
    kernel: release, machine: "x86_64", pidNamespaceLevel: 0, features: [:], limitations: [],
    expectedCases: ["set_tid.order": 6])
  return KernelMatrix.Column(
    kernel: kernel, setting: setting,
    log: ResultLog(cases: cases, environments: [environment]))
}

private let matrixColumns = [
  column(
    "6.19", "root", "6.19.14+deb13-cloud-amd64",
    [
      sample("order.taken", .pass, area: "set_tid.order", expected: "EEXIST", observed: "EEXIST"),
      sample("order.userns", .pass, area: "set_tid.order"),
      sample("order.same", .pass, area: "set_tid.order"),
      sample("order.broke", .pass, area: "set_tid.order"),
      sample(
        "order.feature", .skip, area: "set_tid.order",
        reason: "kernel 6.19.14 lacks pid_namespace.pid_max (inode 1107)", skipKind: .feature,
        feature: "pid_namespace.pid_max"),
      sample(
        "order.fields", .pass, area: "set_tid.order", expected: "success",
        observed: "success (pid 32767, NSpid 32767)"),
    ]),
  column(
    "7.0", "root", "7.0.13+deb13-cloud-amd64",
    [
      sample("order.taken", .pass, area: "set_tid.order", expected: "EPERM", observed: "EPERM"),
      sample("order.userns", .pass, area: "set_tid.order"),
      sample("order.same", .pass, area: "set_tid.order"),
      sample("order.broke", .fail, area: "set_tid.order", expected: "EINVAL", observed: "EPERM"),
      sample("order.feature", .pass, area: "set_tid.order"),
      sample(
        "order.fields", .pass, area: "set_tid.order", expected: "success",
        observed: "success (pid 4194303, NSpid 4194303)"),
    ]),
  column(
    "7.0", "userns", "7.0.13+deb13-cloud-amd64",
    [
      sample("order.taken", .pass, area: "set_tid.order", expected: "EPERM", observed: "EPERM"),
      sample(
        "order.userns", .skip, area: "set_tid.order",
        reason: "needs CAP_SYS_ADMIN in the initial user namespace", skipKind: .privilege),
      sample("order.same", .pass, area: "set_tid.order"),
      sample("order.broke", .pass, area: "set_tid.order"),
      sample("order.feature", .pass, area: "set_tid.order"),
      sample(
        "order.fields", .pass, area: "set_tid.order", expected: "success",
        observed: "success (pid 4194303, NSpid 4194303)"),
    ]),
]

@Suite struct KernelMatrixRendering {
  let matrix = KernelMatrix(
    columns: matrixColumns,
    boundaries: [
      "7.0": ["set-tid-order.json: order.taken"], "5.5": ["features.json: clone3.set_tid"],
      "7.1": ["set-tid-order.json: order.no-init"],
    ])

  @Test func `only cases whose result differs between runs are rows`() {
    #expect(matrix.caseCount == 6)
    #expect(
      matrix.rows.map(\.id) == ["order.broke", "order.feature", "order.taken", "order.userns"])
  }

  @Test func `a missing feature is named by the feature, not by each run's wording`() throws {
    let row = try #require(matrix.rows.first { $0.id == "order.feature" })
    #expect(row.isExplained)
    #expect(row.explanation == "SKIP: the kernel lacks pid_namespace.pid_max")
  }

  @Test func `a changed errno with a changed expectation is explained by it`() throws {
    let row = try #require(matrix.rows.first { $0.id == "order.taken" })
    #expect(row.isExplained)
    #expect(row.explanation == "versioned expectation: EEXIST on 6.19; EPERM on 7.0")
    #expect(row.cells["6.19 root"]?.text == "PASS EEXIST")
    #expect(row.cells["7.0 userns"]?.text == "PASS EPERM")
  }

  @Test func `a skip in one setting is explained by its reason`() throws {
    let row = try #require(matrix.rows.first { $0.id == "order.userns" })
    #expect(row.isExplained)
    #expect(row.explanation == "SKIP: needs CAP_SYS_ADMIN in the initial user namespace")
  }

  @Test func `a FAIL is unexplained and names its run`() throws {
    let row = try #require(matrix.rows.first { $0.id == "order.broke" })
    #expect(!row.isExplained)
    #expect(row.explanation.hasPrefix("UNEXPLAINED: FAIL on 7.0 root"))
    #expect(row.cells["7.0 root"]?.text == "FAIL EPERM (expected EINVAL)")
    #expect(matrix.hasUnexplainedResults)
  }

  @Test func `boundaries name the kernels on either side, or none`() {
    #expect(matrix.boundaries.map(\.version) == ["5.5", "7.0", "7.1"])
    #expect(matrix.boundaries[0].below == nil)
    #expect(matrix.boundaries[0].atOrAbove == "6.19.14+deb13-cloud-amd64")
    #expect(matrix.boundaries[1].below == "6.19.14+deb13-cloud-amd64")
    #expect(matrix.boundaries[1].atOrAbove == "7.0.13+deb13-cloud-amd64")
    #expect(matrix.boundaries[2].below == "7.0.13+deb13-cloud-amd64")
    #expect(matrix.boundaries[2].atOrAbove == nil)
  }

  @Test func `a Debian kernel is placed by the version it was judged as, not its uname -r`() {
    var environment = EnvironmentRecord(
      kernel: "5.10.0-32-cloud-amd64", machine: "x86_64", pidNamespaceLevel: 0, features: [:],
      limitations: [], kernelVersion: "5.10.223")
    let debian = KernelMatrix.Column(
      kernel: "5.10", setting: "root", log: ResultLog(cases: [], environments: [environment]))
    let placed = KernelMatrix(columns: [debian], boundaries: ["5.10.175": ["a"], "5.11": ["b"]])
    // 5.10.223 has the 5.10.175 backport and is below 5.11.
    #expect(placed.boundaries.map(\.atOrAbove) == ["5.10.0-32-cloud-amd64", nil])
    #expect(placed.boundaries.map(\.below) == [nil, "5.10.0-32-cloud-amd64"])
    environment.kernelVersion = nil  // a log from before the version was recorded
    let old = KernelMatrix(
      columns: [
        .init(
          kernel: "5.10", setting: "root", log: ResultLog(cases: [], environments: [environment]))
      ],
      boundaries: ["5.10.175": ["a"]])
    #expect(old.boundaries.map(\.below) == ["5.10.0-32-cloud-amd64"])
  }

  @Test func `the Markdown has a column per run, the totals and the uncovered boundaries`() {
    let text = matrix.markdown()
    #expect(text.contains("| case | 6.19 root | 7.0 root | 7.0 userns | why |"))
    #expect(
      text.contains(
        "| `order.taken` | PASS EEXIST | PASS EPERM | PASS EPERM | versioned expectation: "
          + "EEXIST on 6.19; EPERM on 7.0 |"))
    #expect(text.contains("| 7.0 | root | 7.0.13+deb13-cloud-amd64 | 5 | 1 | 0 | 0 | 0 | 0 |"))
    #expect(text.contains("No kernel on one side of: 5.5, 7.1."))
    #expect(text.contains("4 differ between runs, 1 of them unexplained."))
  }

  @Test func `markup in a reason or an observation stays inside its table cell as text`() {
    let reason = "flags A|B, `x` and <none>\r\n*y* __z__ \\|"
    let runs = [
      column("7.0", "root", "7.0.13", [sample("a.b", .pass, area: "a", observed: "E|B")]),
      column("7.0", "userns", "7.0.13", [sample("a.b", .skip, area: "a", reason: reason)]),
    ]
    let text = KernelMatrix(columns: runs, boundaries: [:]).markdown()
    #expect(
      text.contains(
        "| `a.b` | PASS E\\|B | SKIP | SKIP: flags A\\|B, \\`x\\` and \\<none> \\*y\\* "
          + "\\_\\_z\\_\\_ \\\\\\| |\n"))
  }

  @Test func `the JSON holds the same rows and totals`() throws {
    let object = try JSONSerialization.jsonObject(with: Data(try matrix.json().utf8))
    let json = try #require(object as? [String: Any])
    let rows = try #require(json["rows"] as? [[String: Any]])
    #expect(
      rows.map { $0["id"] as? String } == [
        "order.broke", "order.feature", "order.taken", "order.userns",
      ])
    let columns = try #require(json["columns"] as? [[String: Any]])
    #expect(columns.map { $0["name"] as? String } == ["6.19 root", "7.0 root", "7.0 userns"])
    let totals = try #require(columns[1]["totals"] as? [String: Any])
    #expect(totals["fail"] as? Int == 1)
  }

  @Test func `runs that agree everywhere have no rows`() {
    let same = KernelMatrix(columns: [matrixColumns[0], matrixColumns[0]])
    #expect(same.rows.isEmpty)
    #expect(same.markdown().contains("Every case has the same result in every run."))
  }
}

@Suite struct MatrixCommandLine {
  @Test func `matrix takes KERNEL/SETTING=LOG runs, --out and --fixtures`() throws {
    let command = try ReportCommandLine.parse([
      "matrix", "--out", "m", "6.1/root=a.jsonl", "--fixtures", "Fixtures", "native=b.jsonl",
    ])
    #expect(
      command
        == .run(
          .matrix(
            runs: [
              MatrixRun(kernel: "6.1", setting: "root", log: "a.jsonl"),
              MatrixRun(kernel: "native", log: "b.jsonl"),
            ], outputDirectory: "m", fixtures: "Fixtures")))
  }

  @Test(arguments: [
    ["matrix", "--out", "m"], ["matrix", "--out", "m", "a.jsonl"],
    ["matrix", "--out", "m", "=a.jsonl"], ["matrix", "6.1=a.jsonl"],
    ["matrix", "--out", "m", "6.1=a.jsonl", "6.1=b.jsonl"],
  ])
  func `a matrix command line without runs, a name or --out is a usage error`(
    arguments: [String]
  ) {
    #expect(throws: UsageError.self) { try ReportCommandLine.parse(arguments) }
  }
}

@Suite struct FixtureBoundaryScan {
  @Test func `the project's fixtures name the boundaries the matrix must straddle`() throws {
    // $PIDNS_FIXTURES when the bundle runs from a copy (scripts/test's unprivileged run).
    let fixtures =
      ProcessInfo.processInfo.environment["PIDNS_FIXTURES"].map { URL(fileURLWithPath: $0) }
      ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")
    let boundaries = try FixtureBoundaries.scan(directory: fixtures.path)
    for version in ["5.5", "5.9", "6.14", "7.0", "7.1"] {
      #expect(boundaries[version] != nil, "\(version)")
    }
    // A feature's since and a row's from both count; other areas add rows at 6.14 too.
    let at614 = Set(boundaries["6.14"] ?? [])
    #expect(at614.contains("features.json: pid_namespace.pid_max"))
    #expect(at614.contains("features.json: pidfs.file_handles"))
    #expect(at614.contains("pidfd.json: pidfd.handle.round-trip"))
  }
}
