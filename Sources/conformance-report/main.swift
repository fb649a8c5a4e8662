import ConformanceResults
import Foundation
import ReportCommandLine

let tool = ReportTool(
  standardOutput: { print($0, terminator: "") },
  standardError: { FileHandle.standardError.write(Data("conformance-report: \($0)\n".utf8)) })
exit(ReportCommandLine.main(Array(CommandLine.arguments.dropFirst()), tool: tool).rawValue)
