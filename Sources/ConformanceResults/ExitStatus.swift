/// The exit statuses of `conformance-report`, following sysexits(3) for usage and data errors.
public enum ExitStatus: Int32, Sendable {
  /// No case failed, or the comparison found no regression.
  case success = 0
  /// A case failed, or the comparison found a regression.
  case failure = 1
  /// The environment prevented a meaningful run: nothing ran to a verdict.
  case environmentPrevented = 2
  /// The command line is wrong, or an input file cannot be read (`EX_USAGE`).
  case usage = 64
  /// A log is malformed (`EX_DATAERR`).
  case malformedLog = 65
  /// A report could not be written (`EX_CANTCREAT`).
  case cannotWrite = 73
}

/// What a result log means for the exit status, with the reason when it is not plain.
public struct RunVerdict: Sendable, Equatable {
  /// The status `render` and `summary` exit with.
  public var status: ExitStatus
  /// Why the run is not meaningful; nil unless the status is `environmentPrevented`.
  public var explanation: String?

  /// Judges a log: any FAIL fails; a log with no cases, or where nothing ran to a verdict and
  /// the environment skipped at least one case, was prevented by the environment.
  public init(_ log: ResultLog) {
    let tally = log.tally
    if tally.fail > 0 {
      status = .failure
    } else if tally.total == 0 {
      status = .environmentPrevented
      explanation = "the log has no cases: the test process wrote no results"
    } else if tally.ran == 0,
      let environmentSkips = tally.skipsByKind[SkipKind.environment.rawValue]
    {
      status = .environmentPrevented
      let limits = log.environment?.limitations ?? []
      explanation =
        "no case ran: \(environmentSkips) of \(tally.total) skipped for the environment"
        + (limits.isEmpty ? "" : " (" + limits.joined(separator: "; ") + ")")
    } else {
      status = .success
    }
  }
}
