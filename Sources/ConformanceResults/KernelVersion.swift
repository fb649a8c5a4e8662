import Foundation

/// A kernel version: a release `major.minor.patch`, a release candidate `major.minor-rcN`, or, as
/// a fixture writes a boundary, `major.minor`: the start of that development cycle.
///
/// Changes land in a cycle's merge window, before its rc1, so a fixture's `7.1` covers every
/// 7.1 release candidate as well as 7.1.0 and its stable updates; a fix merged later in the
/// cycle is written `7.1-rc5`; a stable backport `6.12.92`. The order is therefore
/// `7.1` < `7.1-rc1` < … < `7.1-rc8` < `7.1.0` < `7.1.1`, and a KNOWN range or an expectation
/// holds for the release candidates it should (kernel CI boots them).
public struct KernelVersion: Comparable, Hashable, Sendable, Codable, CustomStringConvertible {
  public var major: Int
  public var minor: Int
  /// The stable patch level of a release; 0 for a release candidate and a cycle's start.
  public var patch: Int
  /// nil for a release and its stable updates; N for `-rcN`; 0 for the start of the cycle.
  public var releaseCandidate: Int?

  /// A release or one of its stable updates: `KernelVersion(6, 18, 14)` is 6.18.14.
  public init(_ major: Int, _ minor: Int, _ patch: Int) {
    self.major = major
    self.minor = minor
    self.patch = patch
  }

  /// The start of a development cycle, as a fixture writes `7.0`.
  public init(_ major: Int, _ minor: Int) {
    self.init(major, minor, releaseCandidate: 0)
  }

  /// `-rcN` of a cycle, or its start for 0.
  public init(_ major: Int, _ minor: Int, releaseCandidate: Int) {
    self.major = major
    self.minor = minor
    self.patch = 0
    self.releaseCandidate = releaseCandidate
  }

  /// Parses a fixture's `5.5`, `7.1-rc5`, `6.18.14`, or the start of `uname -r`.
  ///
  /// Distro suffixes are ignored: `6.12.117+deb12-cloud-amd64`, `5.10.0-32-cloud-amd64`,
  /// `7.2.13+deb14`. A release candidate is `-rcN` (upstream's `7.1.0-rc3`, `6.1-rc3`) or
  /// Debian's `~rcN`. Without a patch level or an rc it is the cycle's start: Debian names a
  /// release candidate's kernel `7.3-cloud-amd64` and says which rc only in `uname -v`
  /// (`init(release:build:)`). Needs at least major and minor.
  public init?(release: String) {
    let numeric = release.prefix { $0.isNumber || $0 == "." }
    let parts = numeric.split(separator: ".", omittingEmptySubsequences: false).prefix(3)
    guard parts.count >= 2, let major = Int(parts[0]), let minor = Int(parts[1]) else {
      return nil
    }
    let rest = release.dropFirst(numeric.count)
    if let rc = Self.releaseCandidate(in: rest) {
      self.init(major, minor, releaseCandidate: rc)
    } else if parts.count == 3 {
      guard let patch = Int(parts[2]) else { return nil }
      self.init(major, minor, patch)
    } else {
      self.init(major, minor)
    }
  }

  /// The N of a leading `-rcN` or `~rcN`.
  private static func releaseCandidate(in text: Substring) -> Int? {
    guard let first = text.first, first == "-" || first == "~", text.dropFirst().hasPrefix("rc")
    else { return nil }
    let digits = text.dropFirst(3).prefix { $0.isNumber }
    guard let number = Int(digits), number > 0 else { return nil }
    return number
  }

  /// The version of `release` with what Debian names only in `uname -v` (`build`): the stable
  /// patch level of its older kernels (release `5.10.0-32-cloud-amd64` with build `#1 SMP
  /// Debian 5.10.223-1 (2024-08-10)` is 5.10.223), and whether a `7.3-cloud-amd64` is a release
  /// candidate (`Debian 7.3~rc7-1~exp1`: 7.3-rc7) or the release (`Debian 7.3-1`: 7.3.0). A
  /// build that names another major.minor, or none, leaves the release's version as it is.
  public init?(release: String, build: String) {
    guard var version = KernelVersion(release: release) else { return nil }
    if let marker = build.range(of: "Debian ") {
      let debianText = build[marker.upperBound...]
      let numeric = debianText.prefix { $0.isNumber || $0 == "." }
      let parts = numeric.split(separator: ".").compactMap { Int($0) }
      if parts.count >= 2, parts[0] == version.major, parts[1] == version.minor {
        if let rc = Self.releaseCandidate(in: debianText.dropFirst(numeric.count)) {
          // Only a release without a patch level can be a release candidate.
          if version.releaseCandidate == 0 {
            version = KernelVersion(version.major, version.minor, releaseCandidate: rc)
          }
        } else {
          let patch = parts.count >= 3 ? parts[2] : 0
          version = KernelVersion(
            version.major, version.minor,
            version.releaseCandidate == nil ? max(version.patch, patch) : patch)
        }
      }
    }
    self = version
  }

  /// The start of a cycle, then its release candidates, then the release and its updates.
  private var stage: Int { releaseCandidate ?? Int.max }

  public static func < (lhs: KernelVersion, rhs: KernelVersion) -> Bool {
    (lhs.major, lhs.minor, lhs.stage, lhs.patch) < (rhs.major, rhs.minor, rhs.stage, rhs.patch)
  }

  /// `6.18.14`, `7.1.0`, `7.1-rc5`, or `7.1` for the start of the cycle.
  public var description: String {
    switch releaseCandidate {
    case nil: "\(major).\(minor).\(patch)"
    case 0: "\(major).\(minor)"
    case let rc?: "\(major).\(minor)-rc\(rc)"
    }
  }

  public init(from decoder: any Decoder) throws {
    let text = try decoder.singleValueContainer().decode(String.self)
    // A fixture writes a boundary as the version spells it: what `init(release:)` passes over
    // as a distro suffix would be a typo here (`7.1rc5` read as the start of 7.1, before rc1).
    guard let version = KernelVersion(release: text), version.description == text else {
      throw DecodingError.dataCorrupted(
        .init(
          codingPath: decoder.codingPath,
          debugDescription: "not a kernel version: \(text) (write 7.1, 7.1-rc5 or 6.18.14)"))
    }
    self = version
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(description)
  }
}
