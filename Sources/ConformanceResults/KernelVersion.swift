import Foundation

/// A kernel version as `major.minor.patch`, parsed from a release string or a fixture.
public struct KernelVersion: Comparable, Hashable, Sendable, Codable, CustomStringConvertible {
  public var major: Int
  public var minor: Int
  public var patch: Int

  public init(_ major: Int, _ minor: Int, _ patch: Int = 0) {
    self.major = major
    self.minor = minor
    self.patch = patch
  }

  /// Parses the numeric prefix of `uname -r` or of a fixture's "5.5" / "6.18.14".
  ///
  /// Distro suffixes are ignored: `6.12.117+deb12-cloud-amd64`, `5.10.0-32-cloud-amd64`,
  /// `7.2.13+deb14`, `6.1-rc3`. Needs at least major and minor.
  public init?(release: String) {
    let numeric = release.prefix { $0.isNumber || $0 == "." }
    let parts = numeric.split(separator: ".", omittingEmptySubsequences: false).prefix(3)
    guard parts.count >= 2, let major = Int(parts[0]), let minor = Int(parts[1]) else {
      return nil
    }
    var patch = 0
    if parts.count == 3 {
      guard let value = Int(parts[2]) else { return nil }
      patch = value
    }
    self.init(major, minor, patch)
  }

  /// The version of `release` with the stable patch level that Debian's older kernels name
  /// only in `uname -v` (`build`): release `5.10.0-32-cloud-amd64` with build `#1 SMP Debian
  /// 5.10.223-1 (2024-08-10)` is 5.10.223. A build that names another major.minor, or none,
  /// leaves the release's version as it is.
  public init?(release: String, build: String) {
    guard var version = KernelVersion(release: release) else { return nil }
    if let marker = build.range(of: "Debian "),
      let debian = KernelVersion(release: String(build[marker.upperBound...])),
      debian.major == version.major, debian.minor == version.minor, debian.patch > version.patch
    {
      version.patch = debian.patch
    }
    self = version
  }

  public static func < (lhs: KernelVersion, rhs: KernelVersion) -> Bool {
    (lhs.major, lhs.minor, lhs.patch) < (rhs.major, rhs.minor, rhs.patch)
  }

  public var description: String { "\(major).\(minor).\(patch)" }

  /// `7.0`, or `6.18.14` with a patch level: how the fixtures write a version.
  public var shortDescription: String { patch == 0 ? "\(major).\(minor)" : description }

  public init(from decoder: any Decoder) throws {
    let text = try decoder.singleValueContainer().decode(String.self)
    guard let version = KernelVersion(release: text) else {
      throw DecodingError.dataCorrupted(
        .init(codingPath: decoder.codingPath, debugDescription: "not a kernel version: \(text)"))
    }
    self = version
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(description)
  }
}
