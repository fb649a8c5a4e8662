import CKernelABI
import Foundation
import KernelABI
import Testing

/// The project's own copy of the ABI: layouts and names.
@Suite struct ABITests {
  @Test func `struct clone_args has the published layout`() {
    #expect(MemoryLayout<kabi_clone_args>.size == KABI_CLONE_ARGS_SIZE_VER2)
    let offsets: [(PartialKeyPath<kabi_clone_args>, Int)] = [
      (\.flags, 0), (\.pidfd, 8), (\.child_tid, 16), (\.parent_tid, 24), (\.exit_signal, 32),
      (\.stack, 40), (\.stack_size, 48), (\.tls, 56), (\.set_tid, 64), (\.set_tid_size, 72),
      (\.cgroup, 80),
    ]
    for (field, offset) in offsets {
      #expect(MemoryLayout<kabi_clone_args>.offset(of: field) == offset)
    }
    #expect(
      CloneArgsLayout.allCases.map(\.rawValue)
        == [KABI_CLONE_ARGS_SIZE_VER0, KABI_CLONE_ARGS_SIZE_VER1, KABI_CLONE_ARGS_SIZE_VER2])
    #expect(CloneArgsLayout.allCases.map(\.rawValue) == [64, 80, 88])
  }

  @Test func `a status file that cannot be read is its errno, never a file without the line`() {
    var numbers = [Int32](repeating: 0, count: 4)
    // A directory opens, and read() answers EISDIR.
    #expect(kabi_read_numbers("/proc/self", "NSpid:", &numbers, 4) == -EISDIR)
    #expect(kabi_read_numbers("/proc/self/nonexistent", "NSpid:", &numbers, 4) == -ENOENT)
    #expect(kabi_read_numbers("/proc/self/status", "NSpid:", &numbers, 4) >= 1)
  }

  /// A member of some 800 supplementary groups has a status file whose Groups line pushes NSpid
  /// past 4096 bytes (`setpriv --groups $(seq -s, 10000 10800)`): the line must still be read,
  /// and never as numbers cut short where the buffer ended (4085: the buffer, a newline and
  /// 4095 bytes of the file, ends after "NSpid:\t47").
  @Test(arguments: [5000, 4085])
  func `a status line after a long Groups line is read whole`(groupsBytes: Int) throws {
    let head = "Name:\tx\nGroups:\t"
    let filler = String(repeating: "7", count: groupsBytes - head.utf8.count)
    let file = FileManager.default.temporaryDirectory
      .appendingPathComponent("status-\(getpid())-\(groupsBytes)")
    try Data((head + filler + "\nNSpid:\t4711\t1\nNSsid:\t9\n").utf8).write(to: file)
    defer { try? FileManager.default.removeItem(at: file) }
    var numbers = [Int32](repeating: 0, count: Int(KABI_NSPID_MAX))
    let count = kabi_read_nspid(file.path, &numbers)
    #expect(count == 2)
    #expect(numbers.prefix(2) == [4711, 1])
  }

  @Test func `an errno prints as name, number and message`() {
    #expect(Errno.EINVAL.description == "EINVAL (22): Invalid argument")
    #expect(Errno(name: "E2BIG") == .E2BIG)
    #expect(Errno(name: "EWHAT") == nil)
    #expect(Errno(rawValue: 4000).name == "E?4000")
  }

  @Test func `clone flags print by their kernel names`() {
    #expect(CloneFlags(name: "CLONE_NEWPID")?.rawValue == 0x2000_0000)
    #expect(CloneFlags(name: "CLONE_INTO_CGROUP")?.rawValue == 1 << 33)
    let flags = CloneFlags([.init(rawValue: KABI_CLONE_NEWUSER), .init(rawValue: 1 << 40)])
    #expect(flags.description == "CLONE_NEWUSER|0x10000000000")
  }

  @Test func `fixtures spell flags by name, and an unknown name is rejected`() throws {
    let flags = try JSONDecoder().decode(
      CloneFlags.self, from: Data(#"["CLONE_NEWUSER", "CLONE_NEWPID"]"#.utf8))
    #expect(flags.rawValue == KABI_CLONE_NEWUSER | KABI_CLONE_NEWPID)
    #expect(throws: DecodingError.self) {
      try JSONDecoder().decode(CloneFlags.self, from: Data(#"["CLONE_NEWPD"]"#.utf8))
    }
  }

  @Test func `a bit without a name is spelled in hex, as it prints`() throws {
    let flags = try JSONDecoder().decode(
      CloneFlags.self, from: Data(#"["CLONE_NNP", "0x10000000000", "0x1"]"#.utf8))
    #expect(flags.rawValue == 1 << 35 | 1 << 40 | 1)
    #expect(flags.names == ["CLONE_NNP", "0x10000000001"])
    #expect(CloneFlags(name: "0x0") == nil)
    #expect(CloneFlags(name: "0xg") == nil)
  }
}
