import ConformanceResults
import Foundation
import TestCommands
import Testing

/// Sandbox processes share the test process's memory on x86-64, its TLS included, so the code
/// they run must never call into libc: a lazily bound PLT entry would run the dynamic linker
/// there (seen with `LD_DEBUG=bindings` binding `memcmp` from PID 1 of a sandbox).
@Suite struct SandboxCodeTests {
  /// C files whose code runs in the test process; every other file runs in sandbox processes.
  static let testProcessSide: Set<String> = [
    "sandbox.c", "clone3.c", "syscalls.c", "errno_names.c",
  ]

  /// The bounds of the operations' section, which the linker defines: no call, no PLT entry.
  static let linkerDefined: Set<String> = ["__start_kabi_ops", "__stop_kabi_ops"]

  @Test func `sandbox code calls nothing outside itself, so it needs no PLT entry`() throws {
    let objects = try sandboxObjects()
    let undefined = try Set(objects.flatMap { try symbols(of: $0, undefined: true) })
    let defined = try Set(objects.flatMap { try symbols(of: $0, undefined: false) })
    let external = undefined.subtracting(defined).filter {
      $0 != "_GLOBAL_OFFSET_TABLE_" && !Self.linkerDefined.contains($0)
    }
    #expect(external.isEmpty, "sandbox objects call \(external.sorted().joined(separator: ", "))")
  }

  /// The objects SwiftPM compiled from the sandbox-side C files, next to the test bundle.
  private func sandboxObjects() throws -> [URL] {
    let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("Sources/CKernelABI")
    let objectDirectory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
      .deletingLastPathComponent().appendingPathComponent("CKernelABI.build")
    guard FileManager.default.fileExists(atPath: objectDirectory.path) else {
      try Test.cancel(
        "no object files beside the test bundle (\(objectDirectory.path)): a copied bundle")
    }
    let files = try FileManager.default.contentsOfDirectory(atPath: sources.path)
      .filter { $0.hasSuffix(".c") && !Self.testProcessSide.contains($0) }
    try #require(!files.isEmpty)
    return try files.map { file in
      let object = objectDirectory.appendingPathComponent(file + ".o")
      try #require(FileManager.default.fileExists(atPath: object.path), "\(file) has no object")
      return object
    }
  }

  private func symbols(of object: URL, undefined: Bool) throws -> [String] {
    let nm = try #require(
      ["/usr/bin/nm", "/usr/bin/llvm-nm"].first {
        FileManager.default.isExecutableFile(atPath: $0)
      },
      "no nm (binutils) to read the sandbox objects with")
    let outcome = try BoundedCommand.run(
      nm, undefined ? ["-u", object.path] : ["--defined-only", object.path])
    try #require(
      outcome.status == 0,
      "\(nm) failed on \(object.lastPathComponent) (status \(outcome.status.map { "\($0)" } ?? "killed at the deadline")): \(outcome.output)"
    )
    return outcome.output.split(separator: "\n").compactMap {
      $0.split(separator: " ").last.map(String.init)
    }
  }
}
