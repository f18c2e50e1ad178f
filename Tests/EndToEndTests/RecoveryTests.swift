import DSICore
import DSIFeeds
import DSINet
import DSIRuntime
import DSITestSupport
import DSITools
import Foundation
import Logging
import Testing

/// A/B arbitration and gap recovery over real loopback multicast, with `dsi replay`'s re-request server.
@Suite(.serialized) struct RecoveryTests {
    /// Runs a handler on two fresh lines, replays `capture` into it (with `drop` per copy), optionally serving
    /// re-requests from `serveFrom`, and collects what a subscriber sees. `destinations`: every packet onto both of
    /// the feed's lines, rather than the capture's own lines (A and B) moved to the feed's port.
    func run(capture: String, destinations: Bool, drop: Double, serveFrom: String?, dir: TemporaryDirectory) throws
        -> LiveFeed.Outcome
    {
        let live = try LiveFeed(dir: dir, serving: serveFrom) {
            $0.lineWaitMs = 2
            $0.recoveryTimeoutMs = 30
        }
        try live.replay(capture, onFeedLines: destinations, drop: drop)
        return live.finish(timeout: 20)
    }

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
        #expect(outcome.gaps.isEmpty)
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
        #expect(outcome.gaps.isEmpty)
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
        #expect(outcome.gaps.map(\.lowerBound) == expected.map(\.0))
        #expect(outcome.gaps.map(\.upperBound) == expected.map(\.1))
        let lost = expected.reduce(0) { $0 + $1.1 - $1.0 + 1 }
        #expect(outcome.counters["lostMessages"] == lost)
        #expect(outcome.counters["messages"] == 20_000 - lost)
        #expect(outcome.counters["recoveryRequests"]! > 0, "each was asked for before being given up")
    }
}
