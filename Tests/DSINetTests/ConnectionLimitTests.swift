import DSICore
import DSINet
import DSITestSupport
import Foundation
import Logging
import Testing

/// Clients that connect and say nothing, by the hundred and from several addresses: the publisher holds no more
/// descriptors than its limits allow, writes a bounded number of log lines, and still serves a real subscriber.
@Suite(.serialized) struct ConnectionLimitTests {
    /// An idle TCP connection to `port` from the loopback address `127.0.0.<host>`.
    func connect(_ port: UInt16, from host: UInt8) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_addr = in_addr(s_addr: (UInt32(0x7F00_0000) | UInt32(host)).bigEndian)
        _ = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var remote = sockaddr_in()
        remote.sin_family = sa_family_t(AF_INET)
        remote.sin_port = port.bigEndian
        remote.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
        let rc = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        #expect(rc == 0)
        return fd
    }

    func waitFor(_ condition: () -> Bool) {
        let deadline = Date().addingTimeInterval(10)
        while !condition() && Date() < deadline { usleep(5_000) }
    }

    @Test func aFloodOfIdleClientsIsBoundedInConnectionsAndLogLines() throws {
        let lines = LogCapture()
        var limits = ConnectionLimits()
        limits.maxConnections = 100
        limits.maxPerAddress = 40
        limits.maxHandshakes = 1_000
        limits.logLinesPerSecond = 5
        let harness = try PublisherHarness(limits: limits, logger: lines.logger())
        harness.start()
        defer { harness.finish() }
        let p = harness.publisher
        var clients: [Int32] = []
        let started = Date()
        for i in 0..<600 { clients.append(connect(p.port, from: UInt8(1 + i % 4))) }  // 150 from each of 4 addresses
        waitFor { p.sessionsAccepted.load + p.connectionsRefused.load >= 600 }
        // At most `logLinesPerSecond` a second for as long as the flood lasted (the rest are counted).
        let budget = 5 * (Int(Date().timeIntervalSince(started)) + 2)
        #expect(p.sessionsAccepted.load == 100, "4 addresses x 40 allowed, but 100 in all")
        #expect(p.connectionsRefused.load == 500)
        #expect(p.openConnections.load <= 100, "descriptors held stay within the limit")
        let refusedLines = lines.all.filter { $0.contains("refused a connection") }
        #expect(
            refusedLines.count >= 1 && refusedLines.count <= budget && refusedLines.count < 100,
            "500 refusals, \(refusedLines.count) log lines (never one a refusal)")
        #expect(
            refusedLines.contains { $0.contains("publisher.maxConnections") || $0.contains("publisher.maxConnectionsPerAddress") }
        )
        for fd in clients { close(fd) }
        waitFor { p.openConnections.load == 0 }
        // The storm is over: a real subscriber gets through, and what was held back is summarised.
        let good = try TLSSubscriber(harness.subscriberOptions())
        #expect(good.tlsVersion == "TLSv1.3")
        waitFor { lines.all.contains { $0.contains("more refused connections") } }
        #expect(lines.all.contains { $0.contains("more refused connections") }, "the count of what was not logged")
        #expect(lines.all.count <= budget + 20, "\(lines.all.count) lines for 600 connections")
    }

    @Test func oneAddressCannotTakeEveryConnection() throws {
        var limits = ConnectionLimits()
        limits.maxPerAddress = 10
        let harness = try PublisherHarness(limits: limits)
        harness.start()
        defer { harness.finish() }
        let p = harness.publisher
        let hog = (0..<30).map { _ in connect(p.port, from: 9) }
        waitFor { p.sessionsAccepted.load + p.connectionsRefused.load >= 30 }
        #expect(p.sessionsAccepted.load == 10 && p.connectionsRefused.load == 20)
        // Another address is served while the first is at its limit.
        let good = try TLSSubscriber(harness.subscriberOptions())
        #expect(good.tlsVersion == "TLSv1.3")
        for fd in hog { close(fd) }
    }

    @Test func handshakesInProgressAreBounded() throws {
        var limits = ConnectionLimits()
        limits.maxHandshakes = 8
        let harness = try PublisherHarness(limits: limits)
        harness.start()
        defer { harness.finish() }
        let p = harness.publisher
        let silent = (0..<20).map { i in connect(p.port, from: UInt8(20 + i)) }  // different addresses: only the handshake limit
        waitFor { p.sessionsAccepted.load + p.connectionsRefused.load >= 20 }
        #expect(p.sessionsAccepted.load == 8 && p.connectionsRefused.load == 12)
        for fd in silent { close(fd) }
        waitFor { p.openConnections.load == 0 }
        let good = try TLSSubscriber(harness.subscriberOptions())
        #expect(good.tlsVersion == "TLSv1.3", "handshakes free again once the silent clients left")
    }
}
