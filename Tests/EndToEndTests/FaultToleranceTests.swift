import DSICore
import DSIFeeds
import DSINet
import DSIRuntime
import DSITestSupport
import DSITools
import Foundation
import Testing

/// The hostile network on real loopback sockets and real captures: stray packets of another session, a
/// sequence number of 10^12, duplicated and reordered packets, 30% loss on both lines with `dsi replay`'s re-request
/// server, lines running milliseconds apart, and handlers that join late.
@Suite(.serialized) struct FaultToleranceTests {
    /// A session written twice: clean on two lines, and with the faults of a bad network.
    func captures(_ dir: TemporaryDirectory, messages: Int = 30_000) throws -> (
        clean: String, faulty: String, report: CaptureFile.Report
    ) {
        let session = try SessionGenerator.generate(.init(messages: messages, seed: 31))
        var layout = CaptureFile.Layout()
        layout.lines = 2
        try CaptureFile.write(session, to: dir.file("clean.pcap"), layout: layout)
        layout.faults.foreignPackets = 3
        layout.faults.wildPackets = 3
        layout.faults.duplicate = 0.05
        layout.faults.reorder = 0.05
        let report = try CaptureFile.write(session, to: dir.file("faulty.pcap"), layout: layout)
        return (dir.file("clean.pcap"), dir.file("faulty.pcap"), report)
    }

    @Test func aFaultyCaptureDecodesAndTicksAsTheCleanOne() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (clean, faulty, report) = try captures(dir)
        #expect(report.strays == 6 && report.duplicated > 0 && report.reordered > 0)
        let a = try Commands.run(Commands.dsi, ["decode", clean, "--format", "jsonl"])
        let b = try Commands.run(Commands.dsi, ["decode", faulty, "--format", "jsonl"])
        #expect(a.status == 0 && b.status == 0, "\(b.stderr)")
        #expect(a.stdout == b.stdout, "every genuine message once, in order, and no gap line")
        #expect(!b.stdout.contains("\"event\":\"gap\""))
        #expect(
            b.stderr.contains("strays dropped    3 packets of other sessions, 3 packets implausibly far ahead"), "\(b.stderr)")
        #expect(b.stderr.contains("joined session DSI0000001 at sequence 1"), "where the capture starts")
        #expect(try offlineTicks(clean) == offlineTicks(faulty))
    }

    @Test func aLiveFeedWithStraysDuplicatesAndReorderingLosesNothing() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (clean, faulty, _) = try captures(dir)
        let live = try LiveFeed(dir: dir)
        try live.replay(faulty)
        let outcome = live.finish()
        #expect(outcome.counters["messages"] == 30_000 && outcome.counters["lostMessages"] == 0)
        #expect(outcome.gaps.isEmpty, "no false loss report")
        #expect(outcome.counters["foreignSessionPackets"] == 3 && outcome.counters["implausiblePackets"] == 3)
        #expect(outcome.counters["sessionChanges"] == 0)
        #expect(try outcome.marketTicks() == offlineTicks(clean), "the subscriber got exactly the clean session's ticks")
    }

    /// 30% of the packets dropped on each line at send time (9% on neither), at the capture's pace, recovered from
    /// the real `dsi replay --recovery-port`.
    @Test func thirtyPercentLossOnBothLinesIsRecovered() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let session = try SessionGenerator.generate(.init(messages: 60_000, seed: 32))
        try CaptureFile.write(session, to: dir.file("s.pcap"))
        let recoveryPort = try FreePort.udp()
        let live = try LiveFeed(dir: dir) { $0.recovery = "127.0.0.1:\(recoveryPort)" }
        let replay = try Commands.run(
            Commands.dsi,
            [
                "replay", dir.file("s.pcap"), "--to", live.lines[0].description, "--to", live.lines[1].description,
                "--drop", "0.3", "--drop-seed", "9", "--recovery-port", String(recoveryPort), "--linger", "3",
            ])
        #expect(replay.status == 0, "\(replay.stderr)")
        let outcome = live.finish()
        let lost = outcome.counters["lostMessages"]!
        let messages = outcome.counters["messages"]!
        #expect(messages + lost == 60_000, "every message handled or reported lost")
        #expect(Double(lost) <= 0.001 * 60_000, "at most 0.1% lost: \(lost)")
        #expect(outcome.gaps.reduce(0) { $0 + $1.count } == Int(lost), "each lost range reported, exactly")
        #expect(outcome.counters["recoveredMessages"]! > 3_000, "about 9% of 60 000 came from the server")
        #expect(replay.stderr.contains("copies dropped"), "\(replay.stderr)")
    }

    @Test func linesMillisecondsApartNeedNoRecovery() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let session = try SessionGenerator.generate(.init(messages: 30_000, seed: 33))
        var layout = CaptureFile.Layout()
        layout.lines = 2
        layout.drop = 0.3
        layout.keepOneCopy = true  // every packet is on some line
        layout.lineSkewNanos = 5_000_000  // B runs 5 ms behind A
        let report = try CaptureFile.write(session, to: dir.file("skew.pcap"), layout: layout)
        #expect(report.droppedEverywhere.isEmpty && report.dropped > 1_000)
        let live = try LiveFeed(dir: dir)  // no re-request server: only the other line can fill a gap
        try live.replay(dir.file("skew.pcap"))
        let outcome = live.finish()
        #expect(outcome.counters["messages"] == 30_000 && outcome.counters["lostMessages"] == 0)
        #expect(outcome.gaps.isEmpty)
    }

    @Test(arguments: ["first", "recover", "10001"])
    func aLateJoinBehavesAsItsPolicySays(join: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let session = try SessionGenerator.generate(.init(messages: 40_000, seed: 34))
        try CaptureFile.write(session, to: dir.file("s.pcap"), lines: 2)
        let live = try LiveFeed(dir: dir, serving: dir.file("s.pcap")) { $0.join = join }
        // Started in the middle of the session: its first packet starts at or after 20 001.
        let replay = try live.replay(dir.file("s.pcap"), fromSequence: 20_001)
        let outcome = live.finish()
        let start = session.packets.first { $0.firstSequence >= 20_001 }!.firstSequence
        #expect(replay.skippedBeforeStart == 2 * session.packets.filter { $0.firstSequence < 20_001 }.count, "both lines")
        #expect(outcome.gaps.isEmpty && outcome.counters["lostMessages"] == 0, "nothing is claimed lost")
        switch join {
        case "first":
            #expect(outcome.joins == [start], "a status tick says where the stream starts")
            #expect(outcome.counters["messages"] == 40_000 - (start - 1))
            #expect(outcome.counters["recoveryRequests"] == 0, "nothing before it is asked for")
        case "recover":
            #expect(outcome.joins.isEmpty)
            #expect(outcome.counters["messages"] == 40_000)
            #expect(outcome.counters["recoveredMessages"] == start - 1, "the morning, from the server")
        default:
            #expect(outcome.joins == [10_001])
            #expect(outcome.counters["messages"] == 40_000 - 10_000)
            #expect(outcome.counters["recoveredMessages"] == start - 10_001)
        }
    }

}
