// swift-tools-version: 6.0
import PackageDescription

let package = Package(
  name: "pidns-conformance",
  products: [
    .executable(name: "conformance-report", targets: ["conformance-report"])
  ],
  targets: [
    // Shipped: the result-log schema, the report renderers and the run comparison.
    .target(name: "ConformanceResults", path: "Sources/ConformanceResults"),
    .executableTarget(
      name: "conformance-report",
      dependencies: ["ConformanceResults"],
      path: "Sources/conformance-report"
    ),

    // Test support: the ABI in C, libcap, the typed Swift layer, and the expectation machinery.
    .target(name: "CKernelABI", path: "Tests/Support/CKernelABI"),
    .systemLibrary(
      name: "CLibcap",
      path: "Tests/Support/CLibcap",
      pkgConfig: "libcap",
      providers: [.apt(["libcap-dev"])]
    ),
    .target(
      name: "KernelABI",
      dependencies: ["CKernelABI", "CLibcap"],
      path: "Tests/Support/KernelABI"
    ),
    .target(
      name: "ConformanceSupport",
      dependencies: ["KernelABI", "ConformanceResults", "CLibcap"],
      path: "Tests/Support/ConformanceSupport"
    ),

    // Test tool: runs a program (the test bundle) with some syscalls refused by seccomp.
    .executableTarget(name: "pidns-seccomp-exec", path: "Tests/Tools/SeccompExec"),

    .testTarget(
      name: "ConformanceTests",
      dependencies: ["ConformanceSupport", "KernelABI", "CKernelABI"],
      path: "Tests/ConformanceTests"
    ),
    .testTarget(
      name: "SupportTests",
      dependencies: ["ConformanceSupport", "KernelABI", "CKernelABI"],
      path: "Tests/SupportTests"
    ),
    .testTarget(
      name: "ConformanceResultsTests",
      dependencies: ["ConformanceResults"],
      path: "Tests/ConformanceResultsTests"
    ),
  ]
)
