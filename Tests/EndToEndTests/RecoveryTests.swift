import DSICore
import DSIFeeds
import DSINet
import DSIRuntime
import DSITestSupport
import Foundation
import Logging
import Testing

/// A/B arbitration and gap recovery over real loopback multicast, with `dsi replay`'s re-request server.
@Suite(.serialized) struct RecoveryTests {
    struct Outcome {
        var counters: [String: UInt64]
        var gapTicks: [(UInt64, UInt64)]
        var ticks: UInt64
    }

    /// Runs a handler on two fresh lines, replays `capture` into it (with `drop` per copy), optionally serving
    /// re-requests from `serveFrom`, and collects the gap ticks a subscriber sees.
    func run(capture: String, destinations: Bool, drop: Double, serveFrom: String?, dir: TemporaryDirectory) throws -> Outcome {
        let port = try FreePort.udp()
        var feed = FeedConfig(
            name: "rec", interface: "127.0.0.1",
            lines: [
                LineConfig(name: "A", group: "239.255.0.1:\(port)"), LineConfig(name: "B", group: "239.255.0.2:\(port)"),
            ])
        var server: RecoveryServer? = nil
        if let serveFrom {
            let s = try RecoveryServer(
                listen: IPv4Endpoint("127.0.0.1:0")!, store: try RecoveryServer.Store.load(capture: serveFrom))
            server = s
            feed.recovery = "127.0.0.1:\(s.port)"
        }
        feed.lineWaitMs = 2
        feed.recoveryTimeoutMs = 30
        var publisher = PublisherConfig(listen: "127.0.0.1:0")
        publisher.stateDirectory = dir.path
        let config = try HandlerConfig(feeds: [feed], publisher: publisher).validated(file: "(test)")
        let handler = try FeedHandler(config: config, logger: Logger(label: "test"))
        handler.start()
        let stop = Stop()
        let serving = server.map { server in BackgroundThread { server.serve { stop.value } } }

        var options = TLSSubscriber.Options(host: "127.0.0.1", port: handler.port)
        options.caFile = handler.certificate
        let subscriber = try TLSSubscriber(options)
        let collected = Collected()
        let reading = BackgroundThread {
            _ = try? subscriber.run { tick in
                if tick.statusType == Tick.gapStatusType { collected.gaps.append((tick.gapFirst, tick.gapLast)) }
            }
        }
        let deadline = Date().addingTimeInterval(5)
        while handler.publisher.subscribers.load < 1 && Date() < deadline { usleep(1000) }

        // Either both lines of this test, or the capture's own lines (A and B) moved to this test's port.
        var replayer = Replayer(destinations: destinations ? config.lines.map(\.group) : [], pacing: .original(speed: 1))
        replayer.dropProbability = drop
        replayer.dropSeed = 3
        replayer.spinThresholdNanos = 0
        replayer.portOverride = port
        _ = try replayer.replay(path: capture)
        let ended = Date().addingTimeInterval(20)
        while !(handler.sessionEnded.load(ordering: .acquiring) && handler.ingestEmpty) && Date() < ended { usleep(2000) }
        let ended2 = handler.sessionEnded.load(ordering: .acquiring)
        #expect(ended2, "end of session handled")
        _ = handler.stop()
        reading.join()
        stop.value = true
        serving?.join()
        return Outcome(
            counters: Dictionary(uniqueKeysWithValues: handler.counters.snapshot), gapTicks: collected.gaps,
            ticks: handler.publisher.ticksPublished.load)
    }

    final class Stop: @unchecked Sendable { var value = false }
    final class Collected: @unchecked Sendable { var gaps: [(UInt64, UInt64)] = [] }

    @Test func dropsOnOneLineAreFilledByTheOther() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let session = try SessionGenerator.generate(.init(messages: 20_000, seed: 9))
        // Two lines, each copy dropped with p = 0.1, but never both copies of a packet.
        let report = try CaptureFile.write(session, to: dir.file("ab.pcap"), lines: 2, drop: 0.1, seed: 5, keepOneCopy: true)
        #expect(report.dropped > 100 && report.droppedEverywhere.isEmpty)
        let outcome = try run(capture: dir.file("ab.pcap"), destinations: false, drop: 0, serveFrom: nil, dir: dir)
        #expect(outcome.counters["messages"] == 20_000)
        #expect(outcome.counters["lostMessages"] == 0)
        #expect(outcome.counters["duplicateMessages"]! > 0)
        #expect(outcome.gapTicks.isEmpty)
    }

    @Test func dropsOnBothLinesAreRecoveredByReRequest() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let session = try SessionGenerator.generate(.init(messages: 20_000, seed: 10))
        try CaptureFile.write(session, to: dir.file("full.pcap"))
        let outcome = try run(
            capture: dir.file("full.pcap"), destinations: true, drop: 0.2, serveFrom: dir.file("full.pcap"), dir: dir)
        #expect(outcome.counters["messages"] == 20_000)
        #expect(outcome.counters["recoveredMessages"]! > 0, "some packets were dropped on both lines and re-requested")
        #expect(outcome.counters["recoveryRequests"]! > 0)
        #expect(outcome.counters["lostMessages"] == 0)
        #expect(outcome.gapTicks.isEmpty)
    }

    @Test func unrecoverableGapIsReportedWithItsExactRange() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let session = try SessionGenerator.generate(.init(messages: 20_000, seed: 11))
        let report = try CaptureFile.write(session, to: dir.file("holes.pcap"), lines: 2, drop: 0.25, seed: 4)
        #expect(!report.droppedEverywhere.isEmpty)
        // Expected lost ranges: packets on no line, adjacent ones merged.
        var expected: [(UInt64, UInt64)] = []
        for (first, count) in report.droppedEverywhere {
            let last = first + UInt64(count) - 1
            if let previous = expected.last, previous.1 + 1 == first {
                expected[expected.count - 1].1 = last
            } else {
                expected.append((first, last))
            }
        }
        // The server has only what the capture has, so these ranges cannot be recovered.
        let outcome = try run(
            capture: dir.file("holes.pcap"), destinations: false, drop: 0, serveFrom: dir.file("holes.pcap"), dir: dir)
        #expect(outcome.gapTicks.map(\.0) == expected.map(\.0))
        #expect(outcome.gapTicks.map(\.1) == expected.map(\.1))
        let lost = expected.reduce(0) { $0 + $1.1 - $1.0 + 1 }
        #expect(outcome.counters["lostMessages"] == lost)
        #expect(outcome.counters["messages"] == 20_000 - lost)
        #expect(outcome.counters["recoveryRequests"]! > 0, "each was asked for before being given up")
    }
}
