// swift-tools-version: 6.1
// The benchmarks on ordo-one/package-benchmark (`swift package benchmark` here), kept out of the
// suite's own build: it depends on the suite by path, for its engine.
import PackageDescription

let package = Package(
  name: "pidns-benchmarks",
  platforms: [.macOS(.v13)],
  dependencies: [
    .package(name: "pidns-conformance", path: ".."),
    .package(
      url: "https://github.com/ordo-one/benchmark", from: "1.38.1",
      traits: ["MallocInterposer"]),
  ],
  targets: [
    .executableTarget(
      name: "Placement",
      dependencies: [
        .product(name: "Benchmark", package: "benchmark"),
        .product(name: "ConformanceEngine", package: "pidns-conformance"),
      ],
      path: "Placement",
      plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
    )
  ]
)
