import ConformanceSupport
import Foundation
import KernelABI
import Testing

/// Finding the suite's own cgroup2 directory: the cgroup2 mount in `mountinfo`, beside v1
/// controllers (the build machines' hybrid layout) or alone (the VMs), and the `0::` line; and
/// the v1 hierarchies, with the controllers they hold.
@Suite struct OwnCgroupTests {
  static let hybrid = """
    25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
    35 25 0:30 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
    41 35 0:38 / /sys/fs/cgroup/unified rw,relatime shared:10 - cgroup2 cgroup2 rw
    43 35 0:40 / /sys/fs/cgroup/pids rw,relatime shared:12 - cgroup cgroup rw,pids
    """

  @Test func `the cgroup2 mount is found beside v1 hierarchies and alone`() {
    #expect(OwnCgroup.mountPoint(mountinfo: Self.hybrid) == "/sys/fs/cgroup/unified")
    let alone = "30 1 0:26 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw,nsdelegate"
    #expect(OwnCgroup.mountPoint(mountinfo: alone) == "/sys/fs/cgroup")
    let none = "43 35 0:40 / /sys/fs/cgroup/pids rw,relatime shared:12 - cgroup cgroup rw,pids"
    #expect(OwnCgroup.mountPoint(mountinfo: none) == nil)
  }

  @Test func `a mount point with escaped characters is unescaped`() {
    let spaced = "41 35 0:38 / /mnt/my\\040cgroups rw,relatime - cgroup2 cgroup2 rw"
    #expect(OwnCgroup.mountPoint(mountinfo: spaced) == "/mnt/my cgroups")
    #expect(OwnCgroup.unescape("a\\134b\\011c") == "a\\b\tc")
  }

  @Test func `cgroup v1 hierarchies are found with their options, cgroup2 is not one`() {
    let found = OwnCgroup.v1Hierarchies(mountinfo: Self.hybrid)
    #expect(found.map(\.path) == ["/sys/fs/cgroup/pids"])
    #expect(found.first?.options == ["rw", "pids"])
    let named = "50 1 0:45 / /mnt/cgroup-v1 rw,relatime - cgroup cgroup rw,name=pidns-kabi"
    #expect(OwnCgroup.v1Hierarchies(mountinfo: named).first?.options == ["rw", "name=pidns-kabi"])
    let alone = "30 1 0:26 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw,nsdelegate"
    #expect(OwnCgroup.v1Hierarchies(mountinfo: alone).isEmpty)
  }

  @Test func `the smallest pids.max at or above the suite's cgroup is found, v2 and v1 pids`()
    throws
  {
    let files = [
      "/sys/fs/cgroup/unified/ci/job/pids.max": "max\n",
      "/sys/fs/cgroup/unified/ci/pids.max": "1024\n",
      "/sys/fs/cgroup/pids/pod/pids.max": "500\n",
    ]
    func limit(_ cgroup: String) throws -> Int64? {
      try OwnCgroup.pidsLimit(cgroup: cgroup, mountinfo: Self.hybrid) { path in
        path.hasSuffix("/cgroup.procs") ? "1\n" : files[path]
      }
    }
    #expect(try limit("0::/ci/job\n") == 1024)
    #expect(try limit("8:pids:/pod/a\n0::/ci/job\n") == 500)
    #expect(try limit("8:pids:/\n0::/user.slice\n") == nil)
  }

  @Test func `a pids.max that cannot be read is an unknown limit, never none`() {
    let cgroups = ["/sys/fs/cgroup/unified/ci/job", "/sys/fs/cgroup/unified/ci"]
    func limit(_ cgroup: String, mountinfo: String = Self.hybrid, pidsMax: String = "max")
      -> String?
    {
      do {
        _ = try OwnCgroup.pidsLimit(cgroup: cgroup, mountinfo: mountinfo) {
          (path: String) throws(Errno) -> String? in
          if path == "/sys/fs/cgroup/unified/ci/pids.max" { throw Errno.EACCES }
          if path.hasSuffix("/cgroup.procs") {
            return cgroups.contains { path.hasPrefix($0 + "/") } ? "1\n" : nil
          }
          return path.hasSuffix("/pids.max") ? pidsMax : nil
        }
        return nil
      } catch {
        return error.description
      }
    }
    #expect(limit("0::/ci/job\n")?.contains("/sys/fs/cgroup/unified/ci/pids.max: EACCES") == true)
    // Its own cgroup is not below the mount (another cgroup namespace's, or a subtree).
    #expect(
      limit("0::/elsewhere\n")?.contains("/sys/fs/cgroup/unified/elsewhere is not there") == true)
    // The pids controller's v1 hierarchy, or cgroup2, is not mounted here.
    let noPids = "41 35 0:38 / /sys/fs/cgroup/unified rw,relatime shared:10 - cgroup2 cgroup2 rw"
    #expect(limit("8:pids:/pod\n0::/\n", mountinfo: noPids)?.contains("no such hierarchy") == true)
    #expect(limit("0::/ci/job\n", mountinfo: "")?.contains("no cgroup2 is mounted") == true)
    #expect(limit("0::/ci/job\n", pidsMax: "lots")?.contains("\"lots\", not a number") == true)
    // The root cgroup has no pids.max: nothing to read, no limit.
    #expect(limit("0::/\n", mountinfo: "") == nil)
  }

  @Test func `the 0:: line of /proc/self/cgroup is the cgroup2 path`() {
    let hybrid = "9:name=systemd:/\n4:memory:/process_api/dc78\n0::/user.slice/session-1.scope\n"
    #expect(OwnCgroup.path(cgroup: hybrid) == "/user.slice/session-1.scope")
    #expect(OwnCgroup.path(cgroup: "1:cpu:/\n") == nil)
  }
}

/// The cgroups the CLONE_INTO_CGROUP cases make are gone when their case ends, and a run killed
/// midway leaves nothing the next run does not remove. Needs a cgroup2 directory the suite may
/// create cgroups in (root); cancelled elsewhere.
@Suite struct CaseCgroupTests {
  static func exists(_ path: String) -> Bool {
    FileManager.default.fileExists(atPath: path)
  }

  static func make() throws -> CaseCgroup {
    do { return try CaseCgroup() } catch let skip as CaseSkip { try Test.cancel("\(skip.reason)") }
  }

  @Test func `a case cgroup is gone with everything below it once removed`() throws {
    let cgroup = try Self.make()
    try FileManager.default.createDirectory(
      atPath: cgroup.path + "/a/b", withIntermediateDirectories: true)
    #expect(cgroup.remove() == nil)
    #expect(!Self.exists(cgroup.path))
  }

  @Test func `a tree no one holds is swept and a held one is kept`() throws {
    let held = try Self.make()
    defer { _ = held.remove() }
    let base = (held.path as NSString).deletingLastPathComponent
    let stale = base + "/" + CaseCgroup.prefix + "stale.\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(
      atPath: stale + "/leaf", withIntermediateDirectories: true)
    defer { _ = CaseCgroup.removeTree(stale) }
    CaseCgroup.sweepStale(in: base)
    #expect(!Self.exists(stale))
    #expect(Self.exists(held.path))
  }
}
