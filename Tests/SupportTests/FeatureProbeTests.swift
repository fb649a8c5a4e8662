import Foundation
import KernelABI
import Testing

@testable import ConformanceSupport

/// The probe kinds of `Fixtures/features.json`: each refuses a malformed declaration when the
/// table loads, naming the feature, and each answers present, absent or blocked as its kind
/// says for a case forced here.
@Suite struct FeatureProbeTests {
  @Test(arguments: MalformedProbe.all)
  func `a malformed probe is a load error that names the feature`(_ probe: MalformedProbe) {
    let valid =
      #"{"name": "clone3", "since": "5.3", "what": "w", "probe": {"kind": "file", "path": "/"}}"#
    let broken = #"{"name": "x.broken", "since": "5.0", "what": "w", "probe": \#(probe.json)}"#
    let table = #"{"features": [\#(valid), \#(broken)]}"#
    #expect {
      _ = try FeatureDefinition<FeatureProbe>.table(Data(table.utf8))
    } throws: { error in
      let message = "\(error)"
      return error is FixtureError
        && message.hasPrefix(#"features.json: feature "x.broken": probe: "#)
        && message.contains(probe.complaint)
    }
  }

  @Test func `a feature listed twice is a load error that names it`() {
    let feature =
      #"{"name": "x.twice", "since": "5.0", "what": "w", "probe": {"kind": "file", "path": "/"}}"#
    let table = #"{"features": [\#(feature), \#(feature)]}"#
    #expect {
      _ = try FeatureDefinition<FeatureProbe>.table(Data(table.utf8))
    } throws: { "\($0)" == #"features.json: feature "x.twice" is listed twice"# }
  }

  @Test func `a misspelt key of a feature is a load error that names it`() {
    let feature =
      #"{"name": "x.misspelt", "since": "5.0", "what": "w", "probe": {"kind": "file", "path": "/"}, "#
      + #""removedin": [{"releaseContains": "+deb12-rt", "why": "w"}]}"#
    #expect {
      _ = try FeatureDefinition<FeatureProbe>.table(Data(#"{"features": [\#(feature)]}"#.utf8))
    } throws: { "\($0)".contains(#"unknown key "removedin""#) }
  }

  @Test func `a file probe finds a file, misses one that does not exist, and needs its premise`() {
    #expect(FeatureProbe(kind: .file(path: "/proc/self/ns/pid")).run().state == .present)
    let missing = "/proc/self/no_such_file"
    #expect(FeatureProbe(kind: .file(path: missing)).run().state == .absent("\(missing): ENOENT"))
    let unmounted = FeatureProbe.Premise(path: "/no_such_dir/x", missing: "/no_such_dir is gone")
    #expect(
      FeatureProbe(kind: .file(path: "/no_such_dir/x/y"), premise: unmounted).run().state
        == .blocked("/no_such_dir is gone"))
  }

  @Test func `an ioctl probe judges the answer, and an unknown request is ENOTTY: absent`() throws {
    let unknown = try IoctlRequest("0xb7ff")
    let probe = FeatureProbe(
      kind: .ioctl(path: "/proc/self/ns/pid", request: unknown), absent: [.ENOTTY])
    #expect(
      probe.run()
        == .init(
          state: .absent("ioctl(/proc/self/ns/pid, 0xb7ff) answered ENOTTY"), answer: .ENOTTY))

    // Where a kernel has NS_GET_NSTYPE (4.11), it names the namespace type.
    let nstype = try IoctlRequest("NS_GET_NSTYPE")
    guard Features.state("nsfs.get_nstype") == .present else { return }
    let pid = FeatureProbe(
      kind: .ioctl(path: "/proc/self/ns/pid", request: nstype),
      present: try ProbeAnswer("CLONE_NEWPID"))
    #expect(pid.run().state == .present)
    var user = pid
    user.present = try ProbeAnswer("CLONE_NEWUSER")
    #expect(user.run().state == .absent("ioctl(/proc/self/ns/pid, 0xb703) returned 536870912"))
    let nowhere = FeatureProbe(
      kind: .ioctl(path: "/no_such_file", request: nstype), absent: [.ENOTTY])
    #expect(nowhere.run().state == .blocked("cannot open /no_such_file: \(Errno.ENOENT)"))
  }

  @Test func `a clone3 probe's errno decides, and seccomp's ENOSYS or EPERM is blocked`() throws {
    let probe = FeatureProbe(
      kind: .clone3(try Self.cloneArgs(#"{"size": 80, "exit_signal": 256, "set_tid": [1]}"#)),
      present: .failure(.EINVAL),
      absent: [.E2BIG, .ENOSYS])
    let call = "clone3(set_tid, size 80)"
    func judge(_ errno: Errno, seccomp: Int = 0) -> FeatureState {
      probe.judge(
        -Int(errno.rawValue), call: call, succeeded: "created a process", seccompMode: seccomp
      ).state
    }
    #expect(judge(.EINVAL) == .present)
    #expect(judge(.E2BIG) == .absent("\(call) answered E2BIG"))
    #expect(judge(.ENOSYS) == .absent("\(call) answered ENOSYS"))
    #expect(judge(.ENOSYS, seccomp: 2) == .blocked("\(call) answered ENOSYS under seccomp mode 2"))
    #expect(judge(.EPERM, seccomp: 2) == .blocked("\(call) answered EPERM under seccomp mode 2"))
    #expect(
      judge(.EFAULT)
        == .absent("\(call) answered EFAULT (EINVAL means present, E2BIG or ENOSYS absent)"))
    #expect(
      probe.judge(4242, call: call, succeeded: "created a process", seccompMode: 0).state
        == .absent("\(call) created a process"))
  }

  @Test func `a clone3 flag probe fails in cgroup_can_fork with EBADF once the flags pass`() throws
  {
    let args = try Self.cloneArgs(
      #"{"flags": ["CLONE_INTO_CGROUP"], "exit_signal": 0, "cgroup": 2147483647}"#)
    #expect(args.probeProblem == nil)
    let probe = FeatureProbe(kind: .clone3(args), present: .failure(.EBADF), absent: [.EINVAL])
    // CLONE_INTO_CGROUP alone: every kernel with clone3.into_cgroup (5.7) judges the flags,
    // finds no descriptor 2147483647 and makes no process.
    guard Features.state("clone3.into_cgroup") == .present else { return }
    #expect(probe.run() == .init(state: .present, answer: .EBADF))
  }

  @Test func `a clone3 probe run here answers as the clone3 feature does`() throws {
    // Inverted: EINVAL, which a kernel with clone3 answers, is made to mean absent.
    let inverted = FeatureProbe(
      kind: .clone3(try Self.cloneArgs(#"{"size": 64, "exit_signal": 256}"#)),
      present: .failure(.E2BIG),
      absent: [.EINVAL])
    let outcome = inverted.run()
    switch Features.state("clone3") {
    case .present:
      #expect(outcome.state == .absent("clone3(exit_signal 0x100) answered EINVAL"))
    case .blocked(let evidence):
      #expect(outcome.state == .blocked(evidence))
    case .absent:
      #expect(outcome.answer == Features.answer("clone3"))
    }
  }

  @Test func `the pidfd probes ask a pidfd of the test process, judged by their answers`() throws {
    // Inverted: the answer a kernel with the feature gives is made to mean absent.
    let info = try Self.probe(
      #"{"kind": "pidfd-ioctl", "request": "0xc040ff0b", "present": "ENOTTY", "absent": ["EINVAL"]}"#
    )
    if Features.state("pidfd.get_info") == .present {
      #expect(
        info.run()
          == .init(
            state: .absent("ioctl(pidfd, 0xc040ff0b) answered EINVAL"), answer: .EINVAL))
    }
    let handle = try Self.probe(
      #"{"kind": "pidfd-handle", "present": "EOPNOTSUPP", "absent": ["EOVERFLOW"]}"#)
    if Features.state("pidfs.file_handles") == .present {
      #expect(
        handle.run()
          == .init(
            state: .absent("name_to_handle_at(pidfd, handle_bytes 0) answered EOVERFLOW"),
            answer: Errno(rawValue: EOVERFLOW)))
    }
  }

  @Test func `a program's clone_args with a field the struct lacks is refused as a probe's is`() {
    let args: Argument = .object(["exit_signal": .number(256), "tls": .number(1)])
    let problem = ProgramCall(steps: [.init("clone3", args: ["clone_args": args])]).problem
    #expect(
      problem?.hasPrefix(#"clone3 clone_args: clone_args has no field "tls" (fields: flags"#)
        == true)
  }

  @Test(.needsSandbox)
  func `a file-per-pid-namespace probe compares the inode inside a fresh PID namespace`() {
    #expect(
      FeatureProbe(kind: .filePerPidNamespace(path: "/proc/self/ns/pid")).run().state == .present)
    let shared = "/proc/sys/kernel/ostype"
    guard
      case .absent(let evidence) = FeatureProbe(kind: .filePerPidNamespace(path: shared)).run()
        .state
    else {
      Issue.record("\(shared) differs in a child PID namespace")
      return
    }
    #expect(evidence.hasPrefix("\(shared) is the same inode ("))
    let missing = "/proc/sys/kernel/no_such_sysctl"
    #expect(
      FeatureProbe(kind: .filePerPidNamespace(path: missing)).run().state
        == .blocked("cannot open \(missing): \(Errno.ENOENT)"))
  }

  static func probe(_ json: String) throws -> FeatureProbe {
    try JSONDecoder().decode(FeatureProbe.self, from: Data(json.utf8))
  }

  static func cloneArgs(_ json: String) throws -> CloneArgsSpec {
    try JSONDecoder().decode(CloneArgsSpec.self, from: Data(json.utf8))
  }
}

struct MalformedProbe: Sendable, CustomTestStringConvertible {
  var name: String
  var json: String
  var complaint: String

  var testDescription: String { name }

  static let all: [MalformedProbe] = [
    .init(
      name: "unknown kind", json: #"{"kind": "sysfs"}"#, complaint: #"unknown probe kind "sysfs""#),
    .init(name: "no kind", json: #"{"path": "/"}"#, complaint: #"missing "kind""#),
    .init(name: "file without a path", json: #"{"kind": "file"}"#, complaint: #"missing "path""#),
    .init(
      name: "relative path", json: #"{"kind": "file", "path": "proc"}"#,
      complaint: #"path "proc" is not absolute"#),
    .init(
      name: "another kind's key",
      json: #"{"kind": "file", "path": "/", "request": "NS_GET_PARENT"}"#,
      complaint: #"a file probe has no "request""#),
    .init(
      name: "a file probe with an answer",
      json: #"{"kind": "file", "path": "/", "present": "EPERM"}"#,
      complaint: "the file decides"),
    .init(
      name: "unknown ioctl request",
      json: #"{"kind": "ioctl", "path": "/", "request": "NS_GET_WHAT", "absent": ["ENOTTY"]}"#,
      complaint: #"unknown ioctl request "NS_GET_WHAT""#),
    .init(
      name: "ioctl without an answer",
      json: #"{"kind": "ioctl", "path": "/", "request": "0xb701"}"#,
      complaint: "needs the answer that means present or absent"),
    .init(
      name: "unknown errno",
      json: #"{"kind": "ioctl", "path": "/", "request": "0xb701", "absent": ["EWHAT"]}"#,
      complaint: #"unknown errno "EWHAT""#),
    .init(
      name: "unknown answer",
      json: #"{"kind": "ioctl", "path": "/", "request": "0xb701", "present": "CLONE_WHAT"}"#,
      complaint: #"unknown answer "CLONE_WHAT""#),
    .init(
      name: "clone3 that could create a process",
      json: #"{"kind": "clone3", "args": {"size": 64, "exit_signal": 17}, "present": "EINVAL"}"#,
      complaint: "so the probe could create a process"),
    .init(
      name: "clone3 flag probe without CLONE_INTO_CGROUP",
      json:
        #"{"kind": "clone3", "args": {"flags": ["CLONE_NNP"], "exit_signal": 0, "cgroup": 2147483647}, "present": "EBADF"}"#,
      complaint: "so the probe could create a process"),
    .init(
      name: "clone3 flag probe with a cgroup descriptor that could be open",
      json:
        #"{"kind": "clone3", "args": {"flags": ["CLONE_NNP", "CLONE_INTO_CGROUP"], "exit_signal": 0, "cgroup": 3}, "present": "EBADF"}"#,
      complaint: "so the probe could create a process"),
    .init(
      name: "clone3 flag probe too short for the cgroup field",
      json:
        #"{"kind": "clone3", "args": {"flags": ["CLONE_NNP", "CLONE_INTO_CGROUP"], "exit_signal": 0, "cgroup": 2147483647, "size": 80}, "present": "EBADF"}"#,
      complaint: "so the probe could create a process"),
    .init(
      name: "clone3 with an unknown field",
      json:
        #"{"kind": "clone3", "args": {"size": 64, "exit_signal": 256, "tls": 1}, "present": "EINVAL"}"#,
      complaint: #"args: clone_args has no field "tls" (fields: flags, cgroup, size"#),
    .init(
      name: "clone3 larger than the struct",
      json: #"{"kind": "clone3", "args": {"size": 96, "exit_signal": 256}, "present": "EINVAL"}"#,
      complaint: "size 96 is not 64 to 88"),
    .init(
      name: "clone3 that must succeed",
      json: #"{"kind": "clone3", "args": {"size": 64, "exit_signal": 256}, "present": "0"}"#,
      complaint: "present must be an errno"),
    .init(
      name: "clone3 without args", json: #"{"kind": "clone3", "present": "EINVAL"}"#,
      complaint: #"missing "args""#),
    .init(
      name: "pidfd ioctl without a request", json: #"{"kind": "pidfd-ioctl", "present": "EINVAL"}"#,
      complaint: #"missing "request""#),
    .init(
      name: "pidfd handle with a path",
      json: #"{"kind": "pidfd-handle", "path": "/", "present": "EOVERFLOW"}"#,
      complaint: #"a pidfd-handle probe has no "path""#),
    .init(
      name: "pidfd handle without an answer", json: #"{"kind": "pidfd-handle"}"#,
      complaint: "needs the answer that means present or absent"),
  ]
}
