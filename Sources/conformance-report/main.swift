import ConformanceResults
import Foundation

let tool = ReportTool(
  standardOutput: { print($0, terminator: "") },
  standardError: { FileHandle.standardError.write(Data("conformance-report: \($0)\n".utf8)) })
exit(tool.main(Array(CommandLine.arguments.dropFirst())).rawValue)
