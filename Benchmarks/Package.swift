// swift-tools-version: 6.1
// DSI's benchmarks, a package of their own so the main package never depends on the harness.
//   cd Benchmarks && swift package benchmark        (ordo-one/benchmark: hot paths, malloc counts)
//   cd Benchmarks && swift run -c release RingCompare    (DSI's ring against a C ring, alternated in one process)
//   cd Benchmarks && swift run -c release FanOut         (the publisher fanning out to 1, 10, 100 subscribers)
import Foundation
import PackageDescription

/// SwiftPM names a path dependency after its folder, which is whatever the checkout is called: read it from here.
let dsi = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent.lowercased()

let package = Package(
    name: "DSIBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "../"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        // The plain C ring the Swift one is measured against (also built alone by compare.sh, with CRingTool).
        .target(name: "CRing", path: "CRing"),
        // Both rings alternated segment by segment in one process: `swift run -c release RingCompare`.
        .executableTarget(
            name: "RingCompare",
            dependencies: ["CRing", .product(name: "DSITools", package: dsi)],
            path: "RingCompare"
        ),
        // The publisher fanning out to 1, 10 and 100 subscribers: `swift run -c release FanOut`.
        .executableTarget(
            name: "FanOut",
            dependencies: [
                .product(name: "DSINet", package: dsi),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "FanOut"
        ),
        .executableTarget(
            name: "DSIBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "DSICore", package: dsi),
                .product(name: "DSIFeeds", package: dsi),
                .product(name: "DSIRuntime", package: dsi),
                .product(name: "DSITools", package: dsi),
                .product(name: "DSINet", package: dsi),
            ],
            path: "DSIBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
