/// The exit statuses of `conformance-report`, following sysexits(3) for usage and data errors.
public enum ExitStatus: Int32, Sendable {
  /// Every case ran or skipped, none failed or broke, and the log is complete; or the comparison
  /// found no regression.
  case success = 0
  /// A case failed, or the comparison found a regression.
  case failure = 1
  /// The environment prevented a meaningful run: nothing ran to a verdict, or a case's own setup
  /// broke (BROKEN, LTP's "the environment is broken") while no case failed.
  case environmentPrevented = 2
  /// The run did not complete: results are missing against the fixtures' case count, a fixture
  /// failed to load, or the log has no case at all although the fixtures define some.
  case incomplete = 3
  /// The command line is wrong, or an input file cannot be read (`EX_USAGE`).
  case usage = 64
  /// A log is malformed or empty (`EX_DATAERR`).
  case malformedLog = 65
  /// A report could not be written (`EX_CANTCREAT`).
  case cannotWrite = 73
  /// A run could not start, such as a VM that did not boot: never found in a log, only passed
  /// to `status --also` by the script that saw it.
  case unrunnable = 125
}

/// What a result log means for the exit status, with the reason when it is not plain.
public struct RunVerdict: Sendable, Equatable {
  /// The status `render` and `summary` exit with.
  public var status: ExitStatus
  /// Why the status is not plain success or failure, one line per problem; nil for a complete
  /// run whose only trouble, if any, is a FAIL.
  public var explanation: String?

  /// Judges a log. The worst problem decides the status (`ExitStatus.precedence`): a FAIL (1),
  /// then an incomplete run (3), then BROKEN cases or an environment that let nothing run (2).
  /// A log without any record is no run at all (65). The explanation names every problem found,
  /// so a FAIL in an incomplete run still says that results are missing.
  ///
  /// - Parameter selection: How the run was narrowed, when the log does not say it itself.
  public init(_ log: ResultLog, selection: String? = nil) {
    guard !log.isEmpty else {
      status = .malformedLog
      explanation = "the log is empty: no case and no environment record"
      return
    }
    let tally = log.tally
    let completeness = log.completeness(selection: selection)
    var problems: [String] = []
    if let incomplete = completeness.summary {
      problems.append(incomplete + " (" + completeness.problems.joined(separator: "; ") + ")")
    }
    if tally.broken > 0 {
      problems.append(
        "\(tally.broken) case\(tally.broken == 1 ? "" : "s") BROKEN: the setup, not the kernel, "
          + "failed (first: \(Self.firstBroken(log)))")
    }
    let environmentSkips = tally.skipsByKind[SkipKind.environment.rawValue] ?? 0
    if tally.total == 0 {
      problems.append("the log has no cases: the test process wrote no results")
    } else if tally.ran == 0 && tally.broken == 0 && environmentSkips > 0 {
      let limits = log.environment?.limitations ?? []
      problems.append(
        "no case ran: \(environmentSkips) of \(tally.total) skipped for the environment"
          + (limits.isEmpty ? "" : " (" + limits.joined(separator: "; ") + ")"))
    }
    explanation = problems.isEmpty ? nil : problems.joined(separator: "\n")

    status = ExitStatus.mostSevere(
      (tally.fail > 0 ? [.failure] : []) + (completeness.isComplete ? [] : [.incomplete])
        + (problems.isEmpty ? [] : [.environmentPrevented]))
  }

  private static func firstBroken(_ log: ResultLog) -> String {
    guard let result = log.cases.first(where: { $0.status == .broken }) else { return "" }
    return "\(result.id): \(oneLine(result.setupSummary))"
  }
}
