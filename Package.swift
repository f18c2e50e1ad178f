// swift-tools-version: 6.1
// DSI: a low-latency market-data feed handler (ITCH 5.0 over MoldUDP64 in, normalized ticks out over TLS 1.3).

import PackageDescription

/// A system library target for a C library found with pkg-config and installed from Debian.
func systemLibrary(_ name: String, pkgConfig: String, apt: String) -> Target {
    .systemLibrary(name: name, path: "Sources/\(name)", pkgConfig: pkgConfig, providers: [.apt([apt])])
}

let package = Package(
    name: "DSI",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "dsi", targets: ["dsi"]),
        .library(name: "DSICore", targets: ["DSICore"]),
        .library(name: "DSIFeeds", targets: ["DSIFeeds"]),
        .library(name: "DSINet", targets: ["DSINet"]),
        .library(name: "DSIPcap", targets: ["DSIPcap"]),
        .library(name: "DSIRuntime", targets: ["DSIRuntime"]),
        .library(name: "DSIClient", targets: ["DSIClient"]),
        .library(name: "DSITools", targets: ["DSITools"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-atomics", from: "1.3.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        systemLibrary("CNuma", pkgConfig: "numa", apt: "libnuma-dev"),
        systemLibrary("CPcap", pkgConfig: "libpcap", apt: "libpcap-dev"),
        systemLibrary("CUV", pkgConfig: "libuv", apt: "libuv1-dev"),
        systemLibrary("COpenSSL", pkgConfig: "openssl", apt: "libssl-dev"),
        .target(
            name: "CDSIShims",
            dependencies: ["COpenSSL"],
            cSettings: [.define("_GNU_SOURCE")]
        ),
        // The NATS C client (Debian's libnats-dev) behind a small C interface of DSI's own: its callbacks and message
        // ownership rules are simpler to keep in C.
        .target(name: "CDSINats", linkerSettings: [.linkedLibrary("nats")]),
        .target(
            name: "DSICore",
            dependencies: [
                "CDSIShims", "CNuma",
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .target(name: "DSIFeeds", dependencies: ["DSICore"]),
        .target(
            name: "DSINet",
            dependencies: [
                "DSICore", "CDSIShims", "CUV", "COpenSSL", "CDSINats",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .target(name: "DSIPcap", dependencies: ["DSICore", "CDSIShims", "CPcap"]),
        .target(
            name: "DSIRuntime",
            dependencies: [
                "DSICore", "DSIFeeds", "DSINet", "CDSIShims", "CNuma",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // What is not the handler: capture files, replay and record, generators, benchmarks, the demo, free ports.
        // The production runtime does not depend on it.
        .target(
            name: "DSITools",
            dependencies: [
                "DSIRuntime", "DSICore", "DSIFeeds", "DSINet", "DSIPcap", "CDSIShims",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The subscriber library: connect, subscribe, resume, ticks as an AsyncSequence.
        .target(name: "DSIClient", dependencies: ["DSICore", "DSINet"]),
        .executableTarget(
            name: "dsi",
            dependencies: [
                "DSIRuntime", "DSITools", "DSIClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Shared by the test targets: running commands (dsi itself, tshark, openssl, the Python oracles), temp dirs.
        .target(
            name: "DSITestSupport", dependencies: ["DSICore", .product(name: "Logging", package: "swift-log")],
            path: "Tests/DSITestSupport"),
        .testTarget(name: "DSICoreTests", dependencies: ["DSICore", "DSITestSupport"]),
        .testTarget(name: "DSIFeedsTests", dependencies: ["DSIFeeds", "DSIPcap", "DSITools", "DSITestSupport"]),
        .testTarget(name: "DSINetTests", dependencies: ["DSINet", "DSIRuntime", "DSITools", "DSITestSupport"]),
        .testTarget(name: "DSIPcapTests", dependencies: ["DSIPcap", "DSIFeeds", "DSITools", "DSITestSupport"]),
        .testTarget(name: "DSIRuntimeTests", dependencies: ["DSIRuntime", "DSITools", "DSITestSupport"]),
        .testTarget(name: "DSIClientTests", dependencies: ["DSIClient", "DSIRuntime", "DSITools", "DSITestSupport"]),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["DSIRuntime", "DSITools", "DSIClient", "DSITestSupport", .product(name: "Yams", package: "Yams")]),
    ]
)
