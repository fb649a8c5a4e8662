import Foundation

extension ResultLog {
  /// The KCIDB I/O schema version the document declares (kcidb-io's `LATEST`, v5.3).
  public static let kcidbSchemaVersion = (major: 5, minor: 3)

  /// The origin every KCIDB object names, and the prefix of every id: the CI system that submits
  /// the results. A system that submits them under its own name replaces `pidns_conformance:`
  /// in the ids and the `origin` values.
  public static let kcidbOrigin = "pidns_conformance"

  /// Renders the log in KernelCI's KCIDB I/O schema (v5.3): one checkout (the kernel under
  /// test, known here only by its release), one build of it (the kernel as it ran: release and
  /// architecture; the whole environment record in its `misc`), and one test per case, each
  /// case once.
  ///
  /// A test's `path` is `pidns-conformance.` and the case id, with each character KCIDB's path
  /// pattern refuses (`[A-Za-z0-9_-]` between dots) spelled `_XX_` in hex (`page-size+1` is
  /// `page-size_2B_1`); the id itself is in `misc.case_id`. Statuses: PASS, FAIL and SKIP as
  /// they are; BROKEN is ERROR (the test did not complete because its own setup failed, and the
  /// kernel's status is unknown). KNOWN is FAIL: the case completed and found the kernel faulty,
  /// in a documented way, so it is linked to an `issue` (the bug: title, report, fix) by an
  /// `incident`, which is how KCIDB marks a failure as known and triaged; `misc.status` keeps
  /// `KNOWN`. `log_excerpt` holds the lines KTAP prints for the case (the mismatch, the reason,
  /// the fixture's `why`, the setup failure), `misc` the expectation, the observation, the
  /// reason, the `why`, the skip kind, the known bug and the setup failure, and `environment`
  /// the kernel release, the machine, who ran it and the suite's revision.
  ///
  /// Ids are the origin, a run id and the object's name: the run id is a hash of the log's
  /// records (its kernel, revision, selection and every case's id, status and duration), so it
  /// differs from run to run and is the same every time one log is rendered.
  ///
  /// - Parameter selection: How the run was narrowed; the log's own selection is used when nil.
  /// - Throws: `EncodingError` if a case's duration is not a finite number.
  public func kcidb(selection: String? = nil) throws -> String {
    let origin = Self.kcidbOrigin
    let selection = effectiveSelection(selection)
    let run = "\(origin):\(kcidbRunID(selection: selection))"
    let release = environment?.kernel ?? kernel
    let checkout = KCIDBDocument.Checkout(
      id: run, origin: origin,
      comment: "the Linux kernel that ran pidns-conformance: \(release)",
      misc: .init(kernelRelease: release))
    let build = KCIDBDocument.Build(
      checkoutID: run, id: run + ".kernel", origin: origin,
      architecture: environment.map { Self.kcidbArchitecture($0.machine) },
      comment: "kernel \(release)",
      misc: .init(kernelRelease: release, environment: environment))
    let testEnvironment = KCIDBDocument.Environment(
      comment: [release, environment?.machine, environment?.setting].compactMap { $0 }
        .joined(separator: ", "),
      misc: .init(
        kernelRelease: release, machine: environment?.machine, setting: environment?.setting,
        pidNamespaceLevel: environment?.pidNamespaceLevel,
        suiteRevision: environment?.suiteRevision, selection: selection))
    var issues: [String: KCIDBDocument.Issue] = [:]
    var tests: [KCIDBDocument.Test] = []
    var incidents: [KCIDBDocument.Incident] = []
    for result in cases {
      let test = KCIDBDocument.Test(
        buildID: build.id, id: run + "." + result.id, origin: origin,
        environment: testEnvironment, path: Self.kcidbPath(result.id), comment: result.title,
        logExcerpt: Self.kcidbExcerpt(result), status: Self.kcidbStatus(result.status),
        duration: result.durationSeconds,
        misc: .init(
          caseID: result.id, area: result.area, status: result.status.rawValue,
          expected: result.expected, observed: result.observed, reason: result.reason,
          why: result.why, skipKind: result.skipKind?.rawValue, feature: result.feature,
          knownBug: result.knownBug, knownElsewhere: result.knownElsewhere,
          setupFailure: result.setupFailure))
      tests.append(test)
      if result.status == .known, let bug = result.knownBug {
        let issue = Self.kcidbIssue(bug, origin: origin)
        issues[issue.id] = issue
        incidents.append(
          .init(
            id: test.id + ".incident", origin: origin, issueID: issue.id,
            issueVersion: issue.version, testID: test.id, present: true))
      }
    }
    let document = KCIDBDocument(
      version: .init(major: Self.kcidbSchemaVersion.major, minor: Self.kcidbSchemaVersion.minor),
      checkouts: [checkout], builds: [build], tests: tests,
      issues: issues.isEmpty ? nil : issues.keys.sorted().compactMap { issues[$0] },
      incidents: incidents.isEmpty ? nil : incidents)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(document), as: UTF8.self) + "\n"
  }

  /// 16 hex digits of FNV-1a over the records that make this run this run.
  private func kcidbRunID(selection: String?) -> String {
    var text = [kernel, environment?.suiteRevision ?? "", selection ?? ""].joined(separator: "\n")
    for result in cases {
      text += "\n\(result.id) \(result.status.rawValue) \(result.durationSeconds)"
    }
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 {
      hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
    }
    let hex = String(hash, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
  }

  /// `pidns-conformance.clone3.size.page-size_2B_1` for `clone3.size.page-size+1`: KCIDB's path
  /// is dot-separated `[A-Za-z0-9_-]+` nodes.
  static func kcidbPath(_ id: String) -> String {
    let nodes = id.split(separator: ".", omittingEmptySubsequences: false).map { node in
      let spelled = node.unicodeScalars.map { scalar -> String in
        switch scalar {
        case "A"..."Z", "a"..."z", "0"..."9", "_", "-": return String(scalar)
        default:
          return "_" + String(scalar).utf8.map { String(format: "%02X", $0) }.joined() + "_"
        }
      }.joined()
      return spelled.isEmpty ? "_" : spelled
    }
    return (["pidns-conformance"] + nodes).joined(separator: ".")
  }

  /// KCIDB's architecture is `[a-z0-9_]*`: `x86_64` stays, anything else is lowered and
  /// spelled with underscores.
  private static func kcidbArchitecture(_ machine: String) -> String {
    String(
      machine.lowercased().unicodeScalars.map { scalar -> Character in
        switch scalar {
        case "a"..."z", "0"..."9", "_": Character(scalar)
        default: "_"
        }
      })
  }

  /// KCIDB's status for a case: BROKEN is ERROR, KNOWN is FAIL (with an incident).
  static func kcidbStatus(_ status: CaseStatus) -> String {
    switch status {
    case .pass: "PASS"
    case .fail, .known: "FAIL"
    case .skip: "SKIP"
    case .broken: "ERROR"
    }
  }

  /// The lines KTAP prints for a case, the part of its output that explains its outcome; nil
  /// for a PASS. At most KCIDB's 16384 characters, and no NUL.
  private static func kcidbExcerpt(_ result: CaseResult) -> String? {
    var lines: [String]
    switch result.status {
    case .pass: return nil
    case .fail:
      lines = [result.mismatch, result.failureReason, result.why.map { "why: " + $0 }]
        .compactMap { $0 }
      lines += (result.knownElsewhere ?? []).map { "known elsewhere: " + $0 }
    case .broken:
      lines =
        [result.setupSummary]
        + (result.setupFailure == nil ? [] : [result.reason]).compactMap { $0 }
    case .skip:
      lines = ["SKIP (\(result.skipKindLabel)): " + (result.reason ?? "")]
    case .known:
      lines = [result.mismatch, result.knownBug.map { "known bug: \($0.title) (\($0.report))" }]
        .compactMap { $0 }
    }
    let text = lines.map(oneLine).joined(separator: "\n").replacingOccurrences(of: "\0", with: "")
    guard !text.isEmpty else { return nil }
    return String(String.UnicodeScalarView(text.unicodeScalars.prefix(16384)))
  }

  /// The KCIDB issue for a known bug, keyed by a hash of its report.
  private static func kcidbIssue(_ bug: KnownBug, origin: String) -> KCIDBDocument.Issue {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in (bug.report + "\n" + bug.title).utf8 {
      hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
    }
    let isURL =
      (bug.report.hasPrefix("https://") || bug.report.hasPrefix("http://"))
      && !bug.report.contains(where: \.isWhitespace)
    return .init(
      id: "\(origin):bug-\(String(hash, radix: 16))", version: 0, origin: origin,
      reportURL: isURL ? bug.report : nil, reportSubject: bug.title,
      culprit: .init(code: true, tool: false, harness: false),
      comment: "a documented kernel bug: " + bug.title, misc: bug)
  }
}

/// The document `ResultLog.kcidb()` encodes, in the schema's own key names.
private struct KCIDBDocument: Encodable {
  struct Version: Encodable {
    var major: Int
    var minor: Int
  }

  struct Checkout: Encodable {
    struct Misc: Encodable {
      var kernelRelease: String
      enum CodingKeys: String, CodingKey { case kernelRelease = "kernel_release" }
    }
    var id: String
    var origin: String
    var comment: String
    var misc: Misc
  }

  struct Build: Encodable {
    struct Misc: Encodable {
      var kernelRelease: String
      var environment: EnvironmentRecord?
      enum CodingKeys: String, CodingKey {
        case kernelRelease = "kernel_release"
        case environment
      }
    }
    var checkoutID: String
    var id: String
    var origin: String
    var architecture: String?
    var comment: String
    var misc: Misc
    enum CodingKeys: String, CodingKey {
      case checkoutID = "checkout_id"
      case id, origin, architecture, comment, misc
    }
  }

  struct Environment: Encodable {
    struct Misc: Encodable {
      var kernelRelease: String
      var machine: String?
      var setting: String?
      var pidNamespaceLevel: Int?
      var suiteRevision: String?
      var selection: String?
      enum CodingKeys: String, CodingKey {
        case kernelRelease = "kernel_release"
        case machine, setting, selection
        case pidNamespaceLevel = "pid_namespace_level"
        case suiteRevision = "suite_revision"
      }
    }
    var comment: String
    var misc: Misc
  }

  struct Test: Encodable {
    struct Misc: Encodable {
      var caseID: String
      var area: String
      var status: String
      var expected: String?
      var observed: String?
      var reason: String?
      var why: String?
      var skipKind: String?
      var feature: String?
      var knownBug: KnownBug?
      var knownElsewhere: [String]?
      var setupFailure: SetupFailure?
      enum CodingKeys: String, CodingKey {
        case caseID = "case_id"
        case area, status, expected, observed, reason, why, feature
        case skipKind = "skip_kind"
        case knownBug = "known_bug"
        case knownElsewhere = "known_elsewhere"
        case setupFailure = "setup_failure"
      }
    }
    var buildID: String
    var id: String
    var origin: String
    var environment: Environment
    var path: String
    var comment: String
    var logExcerpt: String?
    var status: String
    var duration: Double
    var misc: Misc
    enum CodingKeys: String, CodingKey {
      case buildID = "build_id"
      case logExcerpt = "log_excerpt"
      case id, origin, environment, path, comment, status, duration, misc
    }
  }

  struct Issue: Encodable {
    struct Culprit: Encodable {
      var code: Bool
      var tool: Bool
      var harness: Bool
    }
    var id: String
    var version: Int
    var origin: String
    var reportURL: String?
    var reportSubject: String
    var culprit: Culprit
    var comment: String
    var misc: KnownBug
    enum CodingKeys: String, CodingKey {
      case reportURL = "report_url"
      case reportSubject = "report_subject"
      case id, version, origin, culprit, comment, misc
    }
  }

  struct Incident: Encodable {
    var id: String
    var origin: String
    var issueID: String
    var issueVersion: Int
    var testID: String
    var present: Bool
    enum CodingKeys: String, CodingKey {
      case issueID = "issue_id"
      case issueVersion = "issue_version"
      case testID = "test_id"
      case id, origin, present
    }
  }

  var version: Version
  var checkouts: [Checkout]
  var builds: [Build]
  var tests: [Test]
  var issues: [Issue]?
  var incidents: [Incident]?
}
