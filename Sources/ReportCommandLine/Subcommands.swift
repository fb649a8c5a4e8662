import ArgumentParser
import ConformanceResults

extension ConformanceReport {
  /// `conformance-report render`.
  struct Render: ReportSubcommand {
    static let configuration = CommandConfiguration(
      commandName: "render",
      abstract: "Write every report of a log into a directory, then print the console summary.",
      discussion: """
        Writes DIR/results.ktap, DIR/results.kcidb.json (KernelCI's KCIDB I/O schema 5.3), \
        DIR/results.junit.xml, DIR/results.json and DIR/summary.md (DIR is created if \
        missing), then prints the console summary. Exits as the log calls for (see \
        conformance-report --help): 0, 1, 2 or 3; 64 a log that cannot be read, 65 a \
        malformed or empty log, 73 a report that cannot be written.
        """)

    @Option(
      help: ArgumentHelp("The result log.", valueName: "results.jsonl"),
      completion: .file(extensions: ["jsonl"]))
    var log: String

    @Option(
      help: ArgumentHelp("Where the reports go.", valueName: "dir"), completion: .directory)
    var out: String

    @Option(
      help: ArgumentHelp(
        "How the run was narrowed, such as \"filter: SetTid\" (the log may say so itself): "
          + "the summary then notes that its counts cover only those cases, and an area "
          + "without any result counts as not selected.",
        valueName: "text"))
    var selection: String?

    var command: ReportCommand {
      .render(log: log, outputDirectory: out, selection: selection)
    }
  }

  /// `conformance-report summary`.
  struct Summary: ReportSubcommand {
    static let configuration = CommandConfiguration(
      commandName: "summary",
      abstract: "Print the console summary of a log.",
      discussion: """
        Exits as render does, without writing any report.
        """)

    @Option(
      help: ArgumentHelp("The result log.", valueName: "results.jsonl"),
      completion: .file(extensions: ["jsonl"]))
    var log: String

    var command: ReportCommand { .summary(log: log) }
  }

  /// `conformance-report compare`.
  struct Compare: ReportSubcommand {
    static let configuration = CommandConfiguration(
      commandName: "compare",
      abstract: "Print what changed between two runs, such as before and after a kernel upgrade.",
      discussion: """
        A case that vanished (unless it skipped before), PASS or KNOWN that became SKIP or \
        BROKEN (lost coverage), and a later run that did not complete are regressions. Exit \
        status: 0 no regression; 1 a regression; 64 a log that cannot be read; 65 a malformed \
        or empty log, BEFORE too.
        """)

    @Argument(
      help: ArgumentHelp("The earlier run's log.", valueName: "before.jsonl"),
      completion: .file(extensions: ["jsonl"]))
    var before: String

    @Argument(
      help: ArgumentHelp("The later run's log.", valueName: "after.jsonl"),
      completion: .file(extensions: ["jsonl"]))
    var after: String

    var command: ReportCommand { .compare(before: before, after: after) }
  }

  /// `conformance-report matrix`.
  struct Matrix: ReportSubcommand {
    static let configuration = CommandConfiguration(
      commandName: "matrix",
      abstract: "Write the matrix of runs on several kernels and settings.",
      discussion: """
        Writes DIR/matrix.md and DIR/matrix.json from the runs given as \
        `6.1/root=results/6.1/root.jsonl`, one column each, in the order given: one row per \
        case whose result differs between columns, with what explains it (a versioned \
        expectation, a skip reason, a known bug; FAIL and BROKEN are unexplained), then each \
        column's totals. Exit status: 0 no run has a FAIL or BROKEN case; 1 one has; 64 a log \
        or the fixtures cannot be read; 65 a malformed or empty log; 73 the matrix cannot be \
        written.
        """)

    @Option(
      help: ArgumentHelp("Where matrix.md and matrix.json go.", valueName: "dir"),
      completion: .directory)
    var out: String

    @Option(
      help: ArgumentHelp(
        "Adds the kernel versions the tables in this directory name, and the matrix kernels on "
          + "either side of each.", valueName: "dir"),
      completion: .directory)
    var fixtures: String?

    @Argument(
      help: ArgumentHelp(
        "A run: the kernel's label, an optional setting, and its log.",
        valueName: "kernel[/setting]=results.jsonl"),
      completion: .file(extensions: ["jsonl"]),
      transform: { (argument: String) throws -> MatrixRun in try MatrixRun(argument) })
    var runs: [MatrixRun] = []

    func validate() throws {
      guard !runs.isEmpty else { throw ValidationError("matrix needs at least one KERNEL=LOG") }
      let names = runs.map { $0.kernel + "/" + $0.setting }
      guard Set(names).count == names.count else {
        throw ValidationError("matrix: a KERNEL/SETTING is given twice")
      }
    }

    var command: ReportCommand {
      .matrix(runs: runs, outputDirectory: out, fixtures: fixtures)
    }
  }

  /// `conformance-report list`.
  struct List: ReportSubcommand {
    static let configuration = CommandConfiguration(
      commandName: "list",
      abstract: "Print every case id of the tables with its table's tags, or every tag.",
      discussion: """
        Prints one case per line, `ID<TAB>tag1,tag2`. A table that does not load is named on \
        stderr and left out. Exit status: 0 listed; 64 a selector that is not a case id or \
        tag:NAME or selects no case, or a fixtures directory that cannot be read.
        """)

    @Option(
      help: ArgumentHelp("The fixture tables.", valueName: "dir"), completion: .directory)
    var fixtures = "Fixtures"

    @Option(
      parsing: .unconditional,
      help: ArgumentHelp(
        "Case ids or tag:NAME, comma- or space-separated: checks every selector and lists "
          + "only what the selection selects.", valueName: "selectors"))
    var filter: String?

    @Flag(help: "Print each tag once instead.")
    var tags = false

    var command: ReportCommand { .list(fixtures: fixtures, filter: filter, tagsOnly: tags) }
  }

  /// `conformance-report status`.
  struct Status: ReportSubcommand {
    static let configuration = CommandConfiguration(
      commandName: "status",
      abstract: "Print each log's status and counts; exit with the most severe status.",
      discussion: """
        Prints one line per log, `LOG<TAB>STATUS<TAB>KERNEL<TAB>pass=N fail=N skip=N known=N \
        broken=N`, explains any status but 0 and 1 on stderr, and exits with the most severe \
        status of the logs (as render would) and of each --also STATUS: 1, then 3, then 125, \
        then 2, then 0. A log that cannot be read (64) or is malformed or empty (65) is named \
        on stderr and decides the exit status, after the other logs are printed.
        """)

    @Option(
      parsing: .singleValue,
      help: ArgumentHelp(
        "A status the caller found itself: 3 a run without a log, 125 a VM that did not run.",
        valueName: "status"),
      completion: .list(ExitStatus.precedence.map { String($0.rawValue) }),
      transform: runStatus)
    var also: [ExitStatus] = []

    @Argument(
      help: ArgumentHelp("The result logs.", valueName: "results.jsonl"),
      completion: .file(extensions: ["jsonl"]))
    var logs: [String] = []

    func validate() throws {
      guard !logs.isEmpty || !also.isEmpty else {
        throw ValidationError("status needs a log or an --also STATUS")
      }
    }

    var command: ReportCommand { .status(logs: logs, also: also) }

    /// A run status, as `--also` takes it: 0, 1, 2, 3 or 125.
    static func runStatus(_ argument: String) throws -> ExitStatus {
      guard let number = Int32(argument), let status = ExitStatus(rawValue: number),
        ExitStatus.precedence.contains(status)
      else {
        throw ValidationError("a run status is 0, 1, 2, 3 or 125")
      }
      return status
    }
  }

  /// `conformance-report cases`.
  struct Cases: ReportSubcommand {
    static let configuration = CommandConfiguration(
      commandName: "cases",
      abstract: "Print a log's cases and its measured PID-namespace level.",
      discussion: """
        Prints the log's cases as they were recorded, one per line: `ID<TAB>STATUS<TAB>REASON`, \
        then `level<TAB>N`, the suite's PID-namespace level as the environment record measured \
        it (`?` unmeasured). A log cut short (a killed run) is read up to its last whole \
        record. Exit status: 0 listed; 64 a log that cannot be read; 65 a malformed log.
        """)

    @Option(
      help: ArgumentHelp(
        "Only the cases of these statuses, comma-separated: "
          + CaseStatus.allCases.map(\.rawValue).joined(separator: ", ") + ".",
        valueName: "status[,status...]"),
      completion: .list(CaseStatus.allCases.map(\.rawValue)))
    var status: String?

    @Argument(
      help: ArgumentHelp("The result log.", valueName: "results.jsonl"),
      completion: .file(extensions: ["jsonl"]))
    var log: String

    var statuses: [String] { status.map { $0.split(separator: ",").map(String.init) } ?? [] }

    func validate() throws {
      let known = Set(CaseStatus.allCases.map(\.rawValue))
      if let unknown = statuses.first(where: { !known.contains($0) }) {
        throw ValidationError(
          "--status '\(unknown)': one of \(known.sorted().joined(separator: ", "))")
      }
    }

    var command: ReportCommand { .cases(log: log, statuses: statuses) }
  }
}
