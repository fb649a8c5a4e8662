import CKernelABI
import ConformanceResults
import Glibc

/// A program run to its end or to a deadline, with what it printed: `posix_spawn`, its output
/// read with `poll` for the time left, then killed and reaped at the deadline.
///
/// Foundation's `Process` waits without a bound and watches the child from threads of its own;
/// under RLIMIT_NPROC (`scripts/hostile-environments`, nproc=30) a test's run of it hung the
/// whole bundle until the setting's 60 s kill.
public enum BoundedCommand {
  /// How a run ended: the exit status (128 + N for signal N), or nil when it was killed at the
  /// deadline; stdout and stderr together.
  public struct Outcome: Sendable {
    public var status: Int32?
    public var output: String
  }

  /// Runs `program` with `arguments` for `seconds` at most. Throws when it cannot start (the
  /// errno of `pipe2` or `posix_spawn`, such as EAGAIN under RLIMIT_NPROC).
  public static func run(_ program: String, _ arguments: [String], seconds: Int = 20)
    throws(FileError) -> Outcome
  {
    var ends: [Int32] = [-1, -1]
    // Close-on-exec from the start (pipe2, which the Glibc module hides): set after pipe(), a
    // test's spawn in another thread meanwhile inherited the ends, and the read waited for it.
    let made = kabi_pipe_cloexec(&ends)
    guard made == 0 else { throw FileError(path: program, code: Int32(-made)) }
    defer { close(ends[0]) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, ends[1], 1)
    posix_spawn_file_actions_adddup2(&actions, ends[1], 2)
    let argv = ([program] + arguments).map { strdup($0) } + [nil]
    defer { for argument in argv { free(argument) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, program, &actions, nil, argv, environ)
    close(ends[1])
    guard spawned == 0 else { throw FileError(path: program, code: spawned) }

    var deadline = timespec()
    clock_gettime(CLOCK_MONOTONIC, &deadline)
    deadline.tv_sec += seconds
    var output: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while let left = millisecondsLeft(until: deadline), left > 0 {
      var ready = pollfd(fd: ends[0], events: Int16(POLLIN), revents: 0)
      if poll(&ready, 1, left) <= 0 { continue }
      let count = read(ends[0], &buffer, buffer.count)
      if count == 0 || (count < 0 && errno != EINTR) { break }
      if count > 0 { output += buffer[0..<count] }
    }
    var status: Int32 = 0
    while waitpid(pid, &status, WNOHANG) == 0 {
      guard let left = millisecondsLeft(until: deadline), left > 0 else {
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
        return Outcome(status: nil, output: String(decoding: output, as: UTF8.self))
      }
      usleep(10_000)
    }
    let signal = status & 0x7f
    return Outcome(
      status: signal == 0 ? (status >> 8) & 0xff : 128 + signal,
      output: String(decoding: output, as: UTF8.self))
  }

  private static func millisecondsLeft(until deadline: timespec) -> Int32? {
    var now = timespec()
    guard clock_gettime(CLOCK_MONOTONIC, &now) == 0 else { return nil }
    let left = (deadline.tv_sec - now.tv_sec) * 1000 + (deadline.tv_nsec - now.tv_nsec) / 1_000_000
    return Int32(clamping: left)
  }
}
