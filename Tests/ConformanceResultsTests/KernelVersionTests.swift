import ConformanceResults
import Foundation
import Testing

/// The one kernel version type: releases from `uname -r` and the fixtures' versions.
@Suite struct KernelVersionTests {
  @Test(arguments: [
    ("6.12.117+deb12-cloud-amd64", KernelVersion(6, 12, 117)),
    ("5.10.0-32-cloud-amd64", KernelVersion(5, 10, 0)),
    ("7.2.13+deb14", KernelVersion(7, 2, 13)),
    ("6.18.44-fc-v669", KernelVersion(6, 18, 44)),
    ("6.1-rc3", KernelVersion(6, 1, releaseCandidate: 3)),
    ("7.1.0-rc3-00123-gabcdef", KernelVersion(7, 1, releaseCandidate: 3)),
    ("7.1-rc5", KernelVersion(7, 1, releaseCandidate: 5)),
    ("7.3-cloud-amd64", KernelVersion(7, 3)),
    ("5.5", KernelVersion(5, 5)),
  ])
  func `a kernel release parses to its version`(release: String, version: KernelVersion) {
    #expect(KernelVersion(release: release) == version)
  }

  @Test(arguments: [
    ("5.10.0-32-cloud-amd64", "#1 SMP Debian 5.10.223-1 (2024-08-10)", KernelVersion(5, 10, 223)),
    (
      "6.1.0-56-cloud-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)",
      KernelVersion(6, 1, 192)
    ),
    (
      "6.12.117+deb12-cloud-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.12.117-1~deb12u1",
      KernelVersion(6, 12, 117)
    ),
    ("6.18.44-fc-v1300", "#1 SMP PREEMPT_DYNAMIC @0", KernelVersion(6, 18, 44)),
    ("6.1.0-56-cloud-amd64", "#1 SMP Debian 5.10.223-1", KernelVersion(6, 1, 0)),
    (
      "7.3-cloud-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 7.3~rc7-1~exp1 (2026-11-02)",
      KernelVersion(7, 3, releaseCandidate: 7)
    ),
    ("7.3-cloud-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 7.3-1~exp1", KernelVersion(7, 3, 0)),
    ("7.3.2-cloud-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 7.3~rc7-1~exp1", KernelVersion(7, 3, 2)),
  ])
  func `Debian's stable patch level is read from uname -v`(
    release: String, build: String, version: KernelVersion
  ) {
    #expect(KernelVersion(release: release, build: build) == version)
  }

  @Test(arguments: ["", "linux", "6", "6.x.1", ".5.5"])
  func `a release without major and minor is rejected`(release: String) {
    #expect(KernelVersion(release: release) == nil)
  }

  @Test func `versions order by major, minor, patch`() {
    #expect(KernelVersion(6, 9) < KernelVersion(6, 10))
    #expect(KernelVersion(6, 18, 14) > KernelVersion(6, 18, 9))
    #expect(KernelVersion(7, 0) > KernelVersion(6, 19, 200))
  }

  @Test func `a cycle starts before its release candidates, which come before its release`() {
    let ordered = [
      KernelVersion(7, 0, 11), KernelVersion(7, 1), KernelVersion(7, 1, releaseCandidate: 1),
      KernelVersion(7, 1, releaseCandidate: 4), KernelVersion(7, 1, releaseCandidate: 5),
      KernelVersion(7, 1, 0), KernelVersion(7, 1, 3), KernelVersion(7, 2),
    ]
    for (lower, higher) in zip(ordered, ordered.dropFirst()) {
      #expect(lower < higher)
    }
  }

  @Test func `a fixture's range covers the release candidates of its cycle`() {
    let fromSevenOne = KernelRange(from: KernelVersion(7, 1))
    #expect(fromSevenOne.contains(KernelVersion(7, 1, releaseCandidate: 1)))
    #expect(!fromSevenOne.contains(KernelVersion(7, 0, 13)))
    let beforeTheFix = KernelRange(
      from: KernelVersion(7, 1), until: KernelVersion(7, 1, releaseCandidate: 5))
    #expect(beforeTheFix.contains(KernelVersion(7, 1, releaseCandidate: 4)))
    #expect(!beforeTheFix.contains(KernelVersion(7, 1, releaseCandidate: 5)))
    #expect(!beforeTheFix.contains(KernelVersion(7, 1, 0)))
  }

  @Test(arguments: ["7.0", "6.18.14", "7.1-rc5", "7.1.0"])
  func `a version is spelled as the fixtures write it`(text: String) {
    #expect(KernelVersion(release: text)?.description == text)
  }

  /// `uname -r` may carry any suffix, a fixture's boundary may not: `7.1rc5` read as the start
  /// of 7.1 would move a fix merged in rc5 back to rc1.
  @Test(arguments: ["7.1rc5", "7.1-rc0", "7.1-rc", "7.1-rc5x", "6.18.14+deb13", "6.18.14 ", "6.01"])
  func `a fixture's version that is not one of its spellings is an error`(text: String) {
    #expect(throws: DecodingError.self) {
      try JSONDecoder().decode(KernelVersion.self, from: Data("\"\(text)\"".utf8))
    }
  }
}
