import CKernelABI
import Foundation
import KernelABI

/// A compact fixture row that stands for one case per nesting depth.
///
/// Depth `d` is the PID-namespace level of the new process counted from the suite's own level.
/// The sandbox makes one user + PID namespace level and nests PID namespaces below it in the same
/// user namespace (so the caller may choose a PID at each), `d - 2` of them when the call adds
/// the last level with `CLONE_NEWPID`, `d - 1` when the call creates the process in the
/// innermost one. `set_tid[j]` (innermost first)
/// is 1 for a new namespace's level and `firstPid + j` otherwise, at every level (`all`) or at
/// the innermost half (`innermostHalf`: `(d + 1) / 2` levels). Levels without a request get the
/// next automatic PID of their namespace, which is known: nothing else forks there.
public struct SetTidDepthsCall: Codable, Hashable, Sendable {
  public enum Requested: String, Codable, Sendable {
    case all
    case innermostHalf = "innermost-half"
  }

  /// `"2...32"`.
  public var depths: String
  public var newPid: Bool
  public var requested: Requested
  public var firstPid: Int32

  var depthRange: ClosedRange<Int>? {
    let bounds = depths.components(separatedBy: "...").compactMap { Int($0) }
    guard bounds.count == 2, bounds[0] >= 1, bounds[0] <= bounds[1] else { return nil }
    return bounds[0]...bounds[1]
  }
}

extension SetTidDepthsCall {
  /// The request at depth `depth`: the call, the child's expected NSpid from the sandbox's
  /// outermost level inward, and the PID its creator gets.
  func request(depth: Int) -> (call: ProgramCall, nspid: [Int32], pid: Int32) {
    let sandboxLevels = newPid ? depth - 1 : depth  // levels that exist before the call
    let count = requested == .all ? depth : (depth + 1) / 2
    let tids: [Int32] = (0..<count).map { index in
      index == 0 && newPid ? 1 : firstPid + Int32(index)
    }
    // Sandbox level i (1 = outermost) holds its init (1), the inits below it, then the child.
    let nspid: [Int32] = (1...depth).map { level in
      let index = depth - level
      if index < count { return tids[index] }
      return Int32(sandboxLevels - level + 2)
    }
    var args: [String: Argument] = ["set_tid": .list(tids.map { .number(Int64($0)) })]
    if newPid { args["flags"] = .list([.text("CLONE_NEWPID")]) }
    var steps: [ProgramCall.Step] = []
    if sandboxLevels > 1 {
      steps.append(
        .init("pid-namespaces", args: ["count": .number(Int64(sandboxLevels - 1))], setup: true))
    }
    steps.append(
      .init(
        "clone3",
        args: ["args": .object(args), "hold": .text("$outsideHold")]))
    return (ProgramCall(levels: 1, steps: steps), nspid, nspid[sandboxLevels - 1])
  }
}

/// Expands depth rows into one case per depth.
public enum SetTidDepths {
  /// The cases of `set-tid-levels.json`, one per row and depth.
  public static func cases(_ file: String = "set-tid-levels.json") throws
    -> [ConformanceCase<ProgramCall>]
  {
    // A row stands for several cases, so the selection applies to the cases it expands into.
    let table = try Fixtures.load(file, as: SetTidDepthsCall.self, selection: nil)
    var expanded: [ConformanceCase<ProgramCall>] = []
    for row in table.cases {
      guard let range = row.call.depthRange, range.lowerBound >= (row.call.newPid ? 2 : 1),
        range.upperBound <= Int(KABI_MAX_PID_NS_LEVEL)
      else {
        throw FixtureError(
          file: file,
          message:
            "\(row.id): depths \"\(row.call.depths)\" is not a range in 1...32 (2...32 with newPid)"
        )
      }
      for depth in range {
        let request = row.call.request(depth: depth)
        let expect = row.expect.map { template in
          var expectation = template
          if expectation.result == .success {
            expectation.fields["pid"] = .number(Int64(request.pid))
            expectation.fields["nspid"] = .numbers(request.nspid.map(Int64.init))
          }
          return expectation
        }
        var generated = ConformanceCase<ProgramCall>(
          id: "\(row.id).depth-\(depth < 10 ? "0" : "")\(depth)",
          title: "\(row.title) (depth \(depth))",
          feature: row.feature, call: request.call, expect: expect, known: row.known)
        generated.area = row.area
        if let selection = CaseSelection.current,
          !selection.selects(id: generated.id, tags: table.tags)
        {
          continue
        }
        expanded.append(generated)
      }
    }
    return expanded
  }
}
