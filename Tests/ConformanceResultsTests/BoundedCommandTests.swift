import ConformanceResults
import TestCommands
import Testing

/// A program the tests run ends by its deadline, whatever it does.
@Suite struct BoundedCommandTests {
  @Test func `a program's status and output come back`() throws {
    let outcome = try BoundedCommand.run("/bin/sh", ["-c", "echo out; echo err >&2; exit 3"])
    #expect(outcome.status == 3)
    #expect(outcome.output == "out\nerr\n")
  }

  // The program waits for the test process (tail --pid), so a run killed midway
  // (scripts/hostile-environments) leaves nothing behind for more than a second.
  @Test func `a program past its deadline is killed and reaped`() throws {
    let outcome = try BoundedCommand.run(
      "/bin/sh", ["-c", "echo started; exec tail -f /dev/null --pid=$PPID"], seconds: 1)
    #expect(outcome.status == nil)
    #expect(outcome.output == "started\n")
  }

  @Test func `a program that cannot start is an error naming it`() {
    #expect(throws: FileError(path: "/nonexistent/program", code: 2)) {
      _ = try BoundedCommand.run("/nonexistent/program", [])
    }
  }
}
