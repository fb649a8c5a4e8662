// swift-tools-version: 6.0
import PackageDescription

let package = Package(
  name: "pidns-conformance",
  products: [
    .executable(name: "conformance-report", targets: ["conformance-report"])
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2")
  ],
  targets: [
    // Shipped: the fixture and result model (tables, kernel versions, selection, the result log),
    // the report renderers and the run comparison.
    .target(name: "ConformanceResults", path: "Sources/ConformanceResults"),
    // conformance-report's command line on swift-argument-parser: its subcommands, their help,
    // completion scripts and the man page; it parses into ConformanceResults' ReportCommand.
    .target(
      name: "ReportCommandLine",
      dependencies: [
        "ConformanceResults",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      path: "Sources/ReportCommandLine"
    ),
    .executableTarget(
      name: "conformance-report",
      dependencies: ["ReportCommandLine", "ConformanceResults"],
      path: "Sources/conformance-report"
    ),

    // The engine: the ABI in C and the sandbox, libcap, the typed Swift layer, and the expectation
    // machinery, which the test bundle runs.
    .target(name: "CKernelABI", path: "Sources/CKernelABI"),
    .systemLibrary(
      name: "CLibcap",
      path: "Sources/CLibcap",
      pkgConfig: "libcap",
      providers: [.apt(["libcap-dev"])]
    ),
    .target(
      name: "KernelABI",
      dependencies: ["CKernelABI", "CLibcap"],
      path: "Sources/KernelABI"
    ),
    .target(
      name: "ConformanceSupport",
      dependencies: ["KernelABI", "ConformanceResults", "CLibcap"],
      path: "Sources/ConformanceSupport"
    ),

    // For tests only: runs a program (a validator, nm) with a deadline, then kills and reaps it.
    .target(
      name: "TestCommands",
      dependencies: ["ConformanceResults", "CKernelABI"],
      path: "Sources/TestCommands"
    ),

    // Runs a program (the test bundle) with some syscalls refused by seccomp.
    .executableTarget(name: "pidns-seccomp-exec", path: "Sources/pidns-seccomp-exec"),

    .testTarget(
      name: "ConformanceTests",
      dependencies: ["ConformanceSupport", "KernelABI", "CKernelABI"],
      path: "Tests/ConformanceTests"
    ),
    .testTarget(
      name: "SupportTests",
      dependencies: ["ConformanceSupport", "KernelABI", "CKernelABI", "TestCommands"],
      path: "Tests/SupportTests"
    ),
    .testTarget(
      name: "ConformanceResultsTests",
      dependencies: [
        "ConformanceResults", "ReportCommandLine", "TestCommands",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      path: "Tests/ConformanceResultsTests"
    ),
  ]
)
