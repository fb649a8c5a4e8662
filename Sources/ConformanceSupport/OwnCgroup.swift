import CKernelABI
import Foundation
import Glibc
import KernelABI
import Synchronization

/// The suite's own cgroup on the cgroup2 hierarchy, for CLONE_INTO_CGROUP cases that need no
/// cgroup of their own: found through `/proc/self/mountinfo` (the cgroup2 mount) and the `0::`
/// line of `/proc/self/cgroup`. Nothing is created or written.
public enum OwnCgroup {
  /// Each mount of `mountinfo`: its mount point, its filesystem type, and its super options.
  static func mounts(mountinfo: String) -> [(path: String, type: Substring, options: [String])] {
    mountinfo.split(separator: "\n").compactMap { line in
      let halves = line.components(separatedBy: " - ")
      let fields = halves[0].split(separator: " ")
      let tail = halves.count == 2 ? halves[1].split(separator: " ") : []
      guard let type = tail.first, fields.count >= 5 else { return nil }
      let options = tail.count >= 3 ? tail[2].split(separator: ",").map(String.init) : []
      return (unescape(String(fields[4])), type, options)
    }
  }

  /// The mount point of the first cgroup2 filesystem in `mountinfo`, or nil.
  public static func mountPoint(mountinfo: String) -> String? {
    mounts(mountinfo: mountinfo).first { $0.type == "cgroup2" }?.path
  }

  /// The path of the `0::` line of `/proc/self/cgroup` (the cgroup2 hierarchy), or nil.
  public static func path(cgroup: String) -> String? {
    cgroup.split(separator: "\n").first { $0.hasPrefix("0::") }.map { String($0.dropFirst(3)) }
  }

  /// Why the suite cannot tell whether a `pids.max` limits it: what could not be read.
  public struct UnknownLimit: Error, CustomStringConvertible {
    public var description: String
  }

  /// The smallest `pids.max` set on the suite's own cgroup or one above it, in the cgroup2
  /// hierarchy and in a v1 hierarchy holding the pids controller: a limit on processes that
  /// refuses a fork with EAGAIN as RLIMIT_NPROC does (a container's or a CI job's). nil where
  /// none is set: a cgroup without `pids.max` (the root, or the controller not enabled there)
  /// sets none. `read` gives a file's text, nil where it does not exist (ENOENT). Throws where
  /// a limit may be set but cannot be read: a `pids.max` that cannot be read or is neither a
  /// number nor `max`, the suite's own cgroup not found below the mount, a hierarchy with the
  /// pids controller (or a cgroup2 path below its root) that is not mounted here.
  public static func pidsLimit(
    cgroup: String, mountinfo: String, read: (String) throws(Errno) -> String? = readFile
  ) throws(UnknownLimit) -> Int64? {
    var places: [(mount: String, path: String)] = []
    if let own = path(cgroup: cgroup), own != "/" {
      guard let mount = mountPoint(mountinfo: mountinfo) else {
        throw UnknownLimit(
          description: "the suite's cgroup2 path is \(own), but no cgroup2 is mounted here")
      }
      places.append((mount, own))
    }
    let v1 = cgroup.split(separator: "\n").lazy.map { $0.split(separator: ":", maxSplits: 2) }
      .first { $0.count == 3 && $0[1].split(separator: ",").contains("pids") }
    if let v1 {
      guard
        let mount = v1Hierarchies(mountinfo: mountinfo).first(where: {
          $0.options.contains("pids")
        })
      else {
        throw UnknownLimit(
          description: "the suite's cgroup holds the pids controller on a cgroup v1 hierarchy "
            + "(\(v1[2])), but no such hierarchy is mounted here")
      }
      places.append((mount.path, String(v1[2])))
    }
    var smallest: Int64?
    for (mount, own) in places {
      var directory = own == "/" ? mount : mount + own
      // Its own cgroup must be there: below a mount of another cgroup namespace's root, or of
      // a subtree (a container's), every pids.max would be missing, read as no limit.
      let procs: String?
      do throws(Errno) {
        procs = try read(directory + "/cgroup.procs")
      } catch {
        throw UnknownLimit(description: "\(directory)/cgroup.procs: \(error)")
      }
      guard procs != nil else {
        throw UnknownLimit(description: "the suite's cgroup \(directory) is not there")
      }
      while true {
        let file = directory + "/pids.max"
        let text: String?
        do throws(Errno) {
          text = try read(file)?.trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
          throw UnknownLimit(description: "\(file): \(error)")
        }
        if let text, text != "max" {
          guard let limit = Int64(text) else {
            throw UnknownLimit(description: "\(file) holds \"\(text)\", not a number or max")
          }
          smallest = min(smallest ?? limit, limit)
        }
        guard directory.count > mount.count, let slash = directory.lastIndex(of: "/") else {
          break
        }
        directory = String(directory[..<slash])
      }
    }
    return smallest
  }

  /// `pidsLimit` where the suite runs.
  static func pidsLimit() throws(UnknownLimit) -> Int64? {
    func text(_ path: String) throws(UnknownLimit) -> String {
      do throws(Errno) {
        guard let text = try readFile(path) else { throw Errno.ENOENT }
        return text
      } catch {
        throw UnknownLimit(description: "\(path): \(error)")
      }
    }
    return try pidsLimit(cgroup: text("/proc/self/cgroup"), mountinfo: text("/proc/self/mountinfo"))
  }

  /// The text of the file at `path`; nil where there is none (ENOENT).
  public static func readFile(_ path: String) throws(Errno) -> String? {
    do throws(FileError) {
      return String(decoding: try FileAccess.read(path), as: UTF8.self)
    } catch {
      guard error.code == ENOENT else { throw Errno(rawValue: error.code) }
      return nil
    }
  }

  /// mountinfo escapes space, tab, newline and backslash as `\ooo`.
  public static func unescape(_ field: String) -> String {
    var bytes: [UInt8] = []
    var rest = Substring(field).utf8[...]
    while let byte = rest.first {
      let octal = rest.dropFirst().prefix(3)
      if byte == UInt8(ascii: "\\"), octal.count == 3,
        let value = UInt8(String(decoding: octal, as: UTF8.self), radix: 8)
      {
        bytes.append(value)
        rest = rest.dropFirst(4)
      } else {
        bytes.append(byte)
        rest = rest.dropFirst()
      }
    }
    return String(decoding: bytes, as: UTF8.self)
  }

  /// The nearest of the suite's own cgroup2 directory and its ancestors whose `cgroup.procs`
  /// the suite may not write, opened read-only: its own cgroup for an unprivileged run, the
  /// parent of a cgroup delegated to its user (systemd's `Delegate=`, or the harness's for the
  /// nonroot setting). SKIP without cgroup2, or where the suite may write every one of them
  /// (then CLONE_INTO_CGROUP has no EACCES to give).
  static func openUnwritable() throws -> Int32 {
    let (own, mount) = try CaseCgroup.own()
    var directory = own
    while access(directory + "/cgroup.procs", W_OK) == 0 {
      guard directory.count > mount.count, let slash = directory.lastIndex(of: "/") else {
        throw CaseSkip(
          .environment,
          "the suite may write cgroup.procs of its cgroup \(own) and of every cgroup above it, "
            + "so CLONE_INTO_CGROUP into one gives no EACCES here (an unprivileged run sees it)")
      }
      directory = String(directory[..<slash])
    }
    let denied = Errno(rawValue: errno)
    guard denied == .EACCES else {
      throw CaseBroken(step: "access \(directory)/cgroup.procs for writing", errno: denied)
    }
    return try openDirectory(directory, "the cgroup \(directory)")
  }

  /// The mount points of cgroup v1 hierarchies in `mountinfo` (filesystem type `cgroup`), each
  /// with its super options (`rw,pids`, `rw,none,name=systemd`).
  public static func v1Hierarchies(mountinfo: String) -> [(path: String, options: [String])] {
    mounts(mountinfo: mountinfo).filter { $0.type == "cgroup" }.map { ($0.path, $0.options) }
  }

  /// `path` opened read-only as a directory; BROKEN, opening `what`, when it cannot be.
  static func openDirectory(_ path: String, _ what: String) throws(CaseBroken) -> Int32 {
    let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { throw CaseBroken(step: "open \(what)", errno: Errno(rawValue: errno)) }
    return fd
  }

  /// The root of the first cgroup v1 hierarchy mounted, opened read-only: a cgroup directory
  /// that is not on the default (v2) hierarchy. SKIP where none is mounted.
  static func openV1() throws -> Int32 {
    let mountinfo = try CaseCgroup.read("/proc/self/mountinfo")
    guard let first = v1Hierarchies(mountinfo: mountinfo).first else {
      throw CaseSkip(.environment, "no cgroup v1 hierarchy is mounted (/proc/self/mountinfo)")
    }
    return try openDirectory(first.path, "the cgroup v1 hierarchy \(first.path)")
  }
}

/// A cgroup2 directory made for one case below the suite's own cgroup (or the cgroup delegated
/// to its user above it: `base()`), named
/// `pidns-conformance.<pid>.<n>.<random>`, and everything the sandbox made below it: the test
/// process removes the whole tree once the sandbox has exited (`remove()`), and the directory is
/// held with `flock` for the case's lifetime, so a run killed midway leaves a tree that the next
/// run making a case cgroup removes (`sweepStale`) before it makes its own. Where the suite may
/// not create one (an unprivileged run without a delegated cgroup) the case SKIPs with the
/// errno.
public final class CaseCgroup {
  /// How every case cgroup's name starts.
  public static let prefix = "pidns-conformance."
  /// The case cgroup's directory.
  public let path: String
  /// Open read-only and locked (`LOCK_EX`) until `remove()`; the sandbox gets it.
  public let descriptor: Int32

  private static let made = Atomic(0)
  private static let swept = Atomic(false)

  /// Controllers that only domain cgroups take (not threaded ones): one enabled in a cgroup's
  /// `cgroup.subtree_control` puts it under the no-internal-process rule.
  static let domainControllers = ["memory", "io", "hugetlb", "rdma", "misc"]

  /// With `enable` (`domainControllers`, or `["pids"]`), the new cgroup also enables the first
  /// of them for its children; SKIP where none is enabled for the suite's own cgroup's children
  /// (the suite never writes that).
  public init(enable: [String] = []) throws {
    let base = try Self.base()
    // The base is locked while a case cgroup is made and locked and while stale ones are
    // swept, so no sweep sees one between its mkdir and its flock.
    let baseDescriptor = try OwnCgroup.openDirectory(base, "the suite's cgroup \(base)")
    defer { Glibc.close(baseDescriptor) }
    guard flock(baseDescriptor, LOCK_EX) == 0 else {
      throw CaseBroken(step: "lock the suite's cgroup \(base)", errno: Errno(rawValue: errno))
    }
    // Once per process, before its first case cgroup: BROKEN when a killed run's cgroup cannot
    // be removed, as the run would leave it behind.
    if !Self.swept.exchange(true, ordering: .relaxed), let problem = Self.sweepStale(in: base) {
      throw CaseBroken(step: "remove the cgroups of a killed run: \(problem)")
    }
    let number = Self.made.wrappingAdd(1, ordering: .relaxed).newValue
    path = "\(base)/\(Self.prefix)\(getpid()).\(number).\(UInt32.random(in: 0...UInt32.max))"
    if mkdir(path, 0o755) != 0 {
      let error = Errno(rawValue: errno)
      guard error != .EACCES, error != .EPERM, error != .EROFS else {
        throw CaseSkip(
          .environment,
          "the suite cannot create a cgroup in \(base): \(error.name) (it needs "
            + "root, or a cgroup delegated to its user)")
      }
      throw CaseBroken(step: "mkdir \(path)", errno: error)
    }
    descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    do {
      guard descriptor >= 0, flock(descriptor, LOCK_EX) == 0 else {
        throw CaseBroken(step: "open and lock \(path)", errno: Errno(rawValue: errno))
      }
      if !enable.isEmpty { try enableController(of: enable, below: base) }
    } catch {
      _ = remove()
      throw error
    }
  }

  /// Writes `+NAME` to the cgroup's `cgroup.subtree_control` for the first of `wanted` that its
  /// `cgroup.controllers` offers.
  private func enableController(of wanted: [String], below base: String) throws {
    let offered: [String]
    do {
      offered = try String(contentsOfFile: path + "/cgroup.controllers", encoding: .utf8)
        .split(whereSeparator: \.isWhitespace).map(String.init)
    } catch {
      throw CaseBroken(step: "read \(path)/cgroup.controllers: \(error)")
    }
    guard let name = wanted.first(where: offered.contains) else {
      let kind =
        wanted == ["pids"]
        ? "the pids controller is not"
        : "no domain controller (\(wanted.joined(separator: ", "))) is"
      let elsewhere = try Self.boundToV1(wanted)
      throw CaseSkip(
        .environment,
        "\(kind) enabled for the children of \(base), so a cgroup below it cannot enable "
          + "one: the suite never writes that cgroup's cgroup.subtree_control"
          + elsewhere)
    }
    let text = "+" + name
    let written = kabi_write_file(path + "/cgroup.subtree_control", text, text.utf8.count)
    guard written == 0 else {
      let error = Errno(rawValue: Int32(-written))
      throw CaseBroken(step: "enable \(name) in \(path)/cgroup.subtree_control", errno: error)
    }
  }

  /// Where a controller of `wanted` serves a cgroup v1 hierarchy instead (a controller serves
  /// one hierarchy: a hybrid layout's pids), for a skip's reason; empty otherwise.
  static func boundToV1(_ wanted: [String]) throws -> String {
    let bound = OwnCgroup.v1Hierarchies(mountinfo: try read("/proc/self/mountinfo")).compactMap {
      hierarchy in
      wanted.first(where: hierarchy.options.contains).map { "\($0) at \(hierarchy.path)" }
    }
    guard !bound.isEmpty else { return "" }
    return " (bound to a cgroup v1 hierarchy instead, a controller serves one hierarchy: "
      + bound.joined(separator: ", ") + ")"
  }

  /// The cgroup2 directory below which case cgroups are made; SKIP without one.
  /// For an unprivileged run (euid not 0) whose own cgroup and its parent are owned by its user
  /// (a subtree delegated to it, as systemd's `Delegate=` chowns `user@UID.service`, or
  /// `scripts/delegated-cgroup` for the harness's nonroot setting) that parent, which holds no
  /// process of the run: there controllers can be enabled for the case cgroups (a cgroup
  /// holding processes may enable no domain controller, and a threaded one such as pids would
  /// make it a thread root and its other children invalid domains). Its own cgroup otherwise.
  public static func base() throws -> String {
    let (own, mount) = try own()
    guard geteuid() != 0, own.count > mount.count, let slash = own.lastIndex(of: "/") else {
      return own
    }
    let parent = String(own[..<slash])
    guard parent.count >= mount.count, ownedByEuid(own), ownedByEuid(parent),
      access(parent, W_OK) == 0, access(parent + "/cgroup.procs", W_OK) == 0
    else { return own }
    return parent
  }

  /// Whether `path` is owned by the effective user.
  private static func ownedByEuid(_ path: String) -> Bool {
    var status = stat()
    return stat(path, &status) == 0 && status.st_uid == geteuid()
  }

  /// The suite's own cgroup2 directory (the `0::` line of `/proc/self/cgroup`), and where the
  /// hierarchy is mounted; SKIP without one.
  static func own() throws -> (path: String, mount: String) {
    guard let mount = OwnCgroup.mountPoint(mountinfo: try read("/proc/self/mountinfo")) else {
      throw CaseSkip(.environment, "no cgroup2 filesystem in /proc/self/mountinfo")
    }
    guard let own = OwnCgroup.path(cgroup: try read("/proc/self/cgroup")) else {
      throw CaseSkip(.environment, "/proc/self/cgroup has no cgroup2 (0::) line")
    }
    return (own == "/" ? mount : mount + own, mount)
  }

  /// A file of /proc the lookup needs; one that cannot be read is a SKIP that names why.
  static func read(_ path: String) throws -> String {
    do {
      return try String(contentsOfFile: path, encoding: .utf8)
    } catch {
      throw CaseSkip(.environment, "cannot read \(path), so no cgroup2 can be found: \(error)")
    }
  }

  /// Removes the case's tree, deepest first, and closes the descriptor: nil once the
  /// directory is gone (`stat` answers ENOENT), else what is left and why.
  public func remove() -> String? {
    let problem = Self.removeTree(path)
    Glibc.close(descriptor)
    var status = stat()
    if stat(path, &status) == 0 { return problem ?? "\(path) is still there" }
    return errno == ENOENT ? nil : "stat \(path): \(Errno(rawValue: errno).name)"
  }

  /// rmdir of every directory below `path` and of `path`: nil, or the first failure.
  public static func removeTree(_ path: String) -> String? {
    var problem: String?
    let children: [String]
    do {
      children = try FileManager.default.contentsOfDirectory(atPath: path)
    } catch {
      guard access(path, F_OK) == 0 else { return nil }  // gone already
      children = []
      problem = "list \(path): \(error)"
    }
    for child in children {
      var status = stat()
      let full = path + "/" + child
      guard lstat(full, &status) == 0, status.st_mode & S_IFMT == S_IFDIR else { continue }
      problem = problem ?? removeTree(full)
    }
    if rmdir(path) != 0, errno != ENOENT {
      problem = problem ?? "rmdir \(path): \(Errno(rawValue: errno).name)"
    }
    return problem
  }

  /// Removes every case cgroup tree below `base` that no one holds locked: those of runs that
  /// were killed. The caller holds `base` locked, so none is between its mkdir and its flock.
  /// nil, or the first thing it could not list or remove.
  @discardableResult
  public static func sweepStale(in base: String) -> String? {
    let entries: [String]
    do {
      entries = try FileManager.default.contentsOfDirectory(atPath: base)
    } catch {
      return "list \(base): \(error)"
    }
    var problem: String?
    for name in entries where name.hasPrefix(prefix) {
      let full = base + "/" + name
      let fd = open(full, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
      guard fd >= 0 else { continue }
      if flock(fd, LOCK_EX | LOCK_NB) == 0 { problem = problem ?? removeTree(full) }
      Glibc.close(fd)
    }
    return problem
  }
}
