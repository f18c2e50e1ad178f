import DSICore
import DSIFeeds
import DSITestSupport
import DSITools
import Foundation
import Testing

/// `dsi record` on loopback, checked with tshark (which DSI did not write): it keeps exactly the joined groups'
/// datagrams, byte for byte, in a nanosecond pcap; stops by count, by duration and on SIGINT with a complete file; and
/// refuses what it cannot record in words.
@Suite(.serialized) struct RecordTests {
    /// Waits until `dsi record` has opened its file: libpcap is capturing from then on.
    func waitForCapture(_ path: String, _ process: Commands.Running) throws {
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: path) && process.process.isRunning && Date() < deadline {
            usleep(20_000)
        }
        try #require(FileManager.default.fileExists(atPath: path), "dsi record never opened \(path)")
        usleep(300_000)
    }

    /// tshark's view of a capture: one line per UDP datagram, destination and payload in hex.
    func datagrams(_ path: String, group: String? = nil) throws -> [String] {
        let filter = group.map { "udp && ip.dst == \($0)" } ?? "udp"
        let out = try Commands.run(
            "tshark", ["-r", path, "-Y", filter, "-T", "fields", "-e", "ip.dst", "-e", "udp.dstport", "-e", "udp.payload"])
        #expect(out.status == 0, "\(out.stderr)")
        return out.stdout.split(separator: "\n").map(String.init)
    }

    @Test func recordsExactlyTheJoinedGroupsByteForByte() throws {
        let dir = try TemporaryDirectory("dsi-record")
        defer { dir.remove() }
        var options = SessionGenerator.Options(messages: 15_000, seed: 21)
        options.symbols = 5
        try CaptureFile.write(try SessionGenerator.generate(options), to: dir.file("s.pcap"))
        let packets = try datagrams(dir.file("s.pcap")).count
        let port = try FreePort.udp()
        let (a, b, other) = ("239.255.7.1", "239.255.7.2", "239.255.7.3")
        let record = try Commands.start(
            Commands.dsi,
            [
                "record", "--group", "\(a):\(port)", "--group", "\(b):\(port)", "--count", String(2 * packets), "--out",
                dir.file("r.pcap"),
            ])
        try waitForCapture(dir.file("r.pcap"), record)
        // The same capture to a group not asked for, at the same time: none of it may be recorded.
        let stray = try Commands.start(
            Commands.dsi, ["replay", dir.file("s.pcap"), "--to", "\(other):\(port)", "--pps", "8000"])
        let replay = try Commands.run(
            Commands.dsi, ["replay", dir.file("s.pcap"), "--to", "\(a):\(port)", "--to", "\(b):\(port)", "--pps", "8000"],
            timeout: 60)
        #expect(replay.status == 0, "\(replay.stderr)")
        _ = try stray.wait(timeout: 60)
        let done = try record.wait(timeout: 30)
        #expect(done.status == 0, "\(done.stderr)")
        #expect(done.stderr.contains("packets                   \(2 * packets)"), "\(done.stderr)")
        #expect(done.stderr.contains("dropped by libpcap        0"), "\(done.stderr)")
        #expect(done.stderr.contains("(count)"), "stopped by its count: \(done.stderr)")

        // tshark: a nanosecond pcap (its magic number), each line's datagrams equal to the capture's, nothing else.
        let magic = try FileHandle(forReadingFrom: URL(fileURLWithPath: dir.file("r.pcap"))).readData(ofLength: 4)
        #expect(Array(magic) == [0x4D, 0x3C, 0xB2, 0xA1], "nanosecond pcap magic (little-endian)")
        let original = try datagrams(dir.file("s.pcap")).map { $0.split(separator: "\t").last.map(String.init) ?? "" }
        for group in [a, b] {
            let recorded = try datagrams(dir.file("r.pcap"), group: group)
            #expect(recorded.count == packets, "\(group): \(recorded.count) of \(packets)")
            #expect(recorded.map { $0.split(separator: "\t").last.map(String.init) ?? "" } == original, "\(group) byte for byte")
        }
        #expect(try datagrams(dir.file("r.pcap"), group: other).isEmpty, "a group not joined is not recorded")
        let stamps = try Commands.run("tshark", ["-r", dir.file("r.pcap"), "-T", "fields", "-e", "frame.time_epoch", "-c", "3"])
        #expect(stamps.stdout.split(separator: "\n").allSatisfy { $0.split(separator: ".").last?.count == 9 }, "\(stamps.stdout)")

        // And the handler's view: the recorded A/B capture gives the original's ticks.
        func ticks(_ file: String) throws -> [String] {
            try jsonLines(try Commands.run(Commands.dsi, ["ticks", file, "--format", "jsonl"]).stdout).map {
                var tick = $0
                tick["receiveTime"] = 0
                return try canonical(tick)
            }
        }
        let expected = try ticks(dir.file("s.pcap"))
        let recordedTicks = try ticks(dir.file("r.pcap"))
        #expect(expected.count > 100 && recordedTicks == expected)
    }

    /// `dsi replay --loop 2 --limit N` recorded: tshark's MoldUDP64 dissector sees the second pass's sequences follow
    /// the first's, and the replay stops at exactly N datagrams; its summary says so, with the pacing error.
    @Test func replayLoopsOnInSequenceAndStopsAtItsLimit() throws {
        let dir = try TemporaryDirectory("dsi-record-loop")
        defer { dir.remove() }
        var options = SessionGenerator.Options(messages: 6_000, seed: 4)
        options.symbols = 4
        try CaptureFile.write(try SessionGenerator.generate(options), to: dir.file("s.pcap"))
        let port = try FreePort.udp()
        func sequences(_ path: String, group: String? = nil) throws -> [UInt64] {
            let out = try Commands.run(
                "tshark",
                [
                    "-r", path, "-d", "udp.port==\(group == nil ? 0 : port),moldudp64", "-Y",
                    group.map { "moldudp64 && ip.dst == \($0)" } ?? "udp", "-T", "fields", "-e", "moldudp64.sequence",
                ])
            return out.stdout.split(separator: "\n").compactMap { UInt64($0) }
        }
        let original = try Commands.run(
            "tshark", ["-r", dir.file("s.pcap"), "-T", "fields", "-e", "udp.dstport", "-c", "1"]
        ).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let first = try Commands.run(
            "tshark",
            [
                "-r", dir.file("s.pcap"), "-d", "udp.port==\(original),moldudp64", "-T", "fields", "-e", "moldudp64.sequence",
                "-e", "moldudp64.count",
            ]
        ).stdout.split(separator: "\n").map { $0.split(separator: "\t").compactMap { UInt64($0) } }
        try #require(first.count > 10 && first.allSatisfy { $0.count == 2 })
        // An end of session (count 65535) holds no message; it is sent after the last pass only.
        let ends = first.filter { $0[1] == 65_535 }.count
        let span = first.map { $0[0] + ($0[1] == 65_535 ? 0 : $0[1]) }.max()! - first.map { $0[0] }.min()!
        let packets = first.count
        let limit = packets + packets / 2  // the whole first pass and half the second

        let record = try Commands.start(
            Commands.dsi,
            [
                "record", "--group", "239.255.7.6:\(port)", "--count", String(limit), "--duration", "60", "--out",
                dir.file("r.pcap"),
            ])
        try waitForCapture(dir.file("r.pcap"), record)
        let replay = try Commands.run(
            Commands.dsi,
            [
                "replay", dir.file("s.pcap"), "--to", "239.255.7.6:\(port)", "--pps", "10000", "--loop", "2", "--limit",
                String(limit),
            ],
            timeout: 60)
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(replay.stderr.contains("datagrams       \(limit) "), "\(replay.stderr)")
        #expect(replay.stderr.contains("passes          2 (stopped at --limit)"), "\(replay.stderr)")
        #expect(replay.stderr.contains("pacing error    p50 "), "\(replay.stderr)")
        let done = try record.wait(timeout: 30)
        #expect(done.status == 0 && done.stderr.contains("(count)"), "\(done.stderr)")
        let got = try sequences(dir.file("r.pcap"), group: "239.255.7.6")
        let sent = first.map { $0[0] }
        let pass1 = first.filter { $0[1] != 65_535 }.map { $0[0] }
        #expect(ends > 0 && got.count == limit, "\(got.count) of \(limit)")
        #expect(got == Array((pass1 + sent.map { $0 + span }).prefix(limit)), "pass 2 follows pass 1 in sequence")
    }

    /// At top speed the replay sends in `sendmmsg` batches per line: each line still gets every datagram, in order,
    /// byte for byte.
    @Test func topSpeedBatchesKeepEachLineWholeAndInOrder() throws {
        let dir = try TemporaryDirectory("dsi-record-top")
        defer { dir.remove() }
        var options = SessionGenerator.Options(messages: 12_000, seed: 5)
        options.symbols = 4
        try CaptureFile.write(try SessionGenerator.generate(options), to: dir.file("s.pcap"))
        let original = try datagrams(dir.file("s.pcap")).map { $0.split(separator: "\t").last.map(String.init) ?? "" }
        let port = try FreePort.udp()
        let (a, b) = ("239.255.7.7", "239.255.7.8")
        let record = try Commands.start(
            Commands.dsi,
            [
                "record", "--group", "\(a):\(port)", "--group", "\(b):\(port)", "--duration", "4", "--out", dir.file("r.pcap"),
            ])
        try waitForCapture(dir.file("r.pcap"), record)
        let replay = try Commands.run(
            Commands.dsi, ["replay", dir.file("s.pcap"), "--to", "\(a):\(port)", "--to", "\(b):\(port)", "--topspeed"],
            timeout: 60)
        #expect(replay.status == 0 && !replay.stderr.contains("pacing error"), "\(replay.stderr)")
        let done = try record.wait(timeout: 30)
        #expect(done.status == 0 && done.stderr.contains("packets                   \(2 * original.count)"), "\(done.stderr)")
        for group in [a, b] {
            let got = try datagrams(dir.file("r.pcap"), group: group).map {
                $0.split(separator: "\t").last.map(String.init) ?? ""
            }
            #expect(got == original, "\(group): \(got.count) of \(original.count), in order")
        }
    }

    /// `dsi replay --txtime` in a network namespace of the test's own: refused in words where the device's qdisc
    /// does not pace (pfifo); where the kernel has etf, paced by it, the recording's gaps checked against the
    /// schedule. (This machine's kernel has no sch_etf: there, the refusal is what runs.)
    @Test func kernelPacingIsRefusedWhereTheDeviceCannotPace() throws {
        let dir = try TemporaryDirectory("dsi-txtime")
        defer { dir.remove() }
        var options = SessionGenerator.Options(messages: 2_000, seed: 6)
        options.symbols = 3
        try CaptureFile.write(try SessionGenerator.generate(options), to: dir.file("s.pcap"))
        let namespace = "dsi-txtime-\(getpid())"
        #expect(try Commands.run("ip", ["netns", "add", namespace]).status == 0)
        defer { _ = try? Commands.run("ip", ["netns", "del", namespace]) }
        func inside(_ arguments: [String], timeout: Double = 60) throws -> Commands.Result {
            try Commands.run("ip", ["netns", "exec", namespace] + arguments, timeout: timeout)
        }
        #expect(try inside(["ip", "link", "set", "lo", "up"]).status == 0)
        #expect(try inside(["tc", "qdisc", "replace", "dev", "lo", "root", "pfifo"]).status == 0)
        let replay = ["replay", dir.file("s.pcap"), "--to", "239.255.7.9:31900", "--pps", "2000", "--txtime"]
        let refused = try inside([Commands.dsi] + replay)
        #expect(refused.status == 1, "\(refused.stderr)")
        #expect(refused.stderr.contains("lo's qdisc is pfifo, which sends at once"), "\(refused.stderr)")
        #expect(refused.stderr.contains("tc qdisc replace dev lo root etf clockid CLOCK_TAI"), "\(refused.stderr)")
        let both = try Commands.run(
            Commands.dsi, ["replay", dir.file("s.pcap"), "--to", "239.255.7.9:31900", "--topspeed", "--txtime"])
        #expect(both.status != 0 && both.stderr.contains("not with --topspeed"), "\(both.stderr)")

        guard
            try inside(["tc", "qdisc", "replace", "dev", "lo", "root", "etf", "clockid", "CLOCK_TAI", "delta", "200000"]).status
                == 0
        else { return }  // no sch_etf in this kernel: nothing paces SO_TXTIME here
        let record = try Commands.start(
            "ip",
            [
                "netns", "exec", namespace, Commands.dsi, "record", "--group", "239.255.7.9:31900", "--duration", "6", "--out",
                dir.file("r.pcap"),
            ])
        try waitForCapture(dir.file("r.pcap"), record)
        let paced = try inside([Commands.dsi] + replay)
        #expect(paced.status == 0 && paced.stderr.contains("0 datagrams missed their time"), "\(paced.stderr)")
        #expect(try record.wait(timeout: 30).status == 0)
        let stamps = try Commands.run("tshark", ["-r", dir.file("r.pcap"), "-T", "fields", "-e", "frame.time_epoch"]).stdout
            .split(separator: "\n").compactMap { Double($0) }
        let gaps = zip(stamps.dropFirst(), stamps).map { abs(($0 - $1) - 1.0 / 2_000) }.sorted()
        #expect(gaps.count > 100 && gaps[gaps.count * 99 / 100] < 50e-6, "p99 gap error \(gaps[gaps.count * 99 / 100])")
    }

    @Test func stopsByDurationAndOnSIGINTWithACompleteFile() throws {
        let dir = try TemporaryDirectory("dsi-record-stop")
        defer { dir.remove() }
        let port = try FreePort.udp()
        let quiet = try Commands.run(
            Commands.dsi, ["record", "--group", "239.255.7.4:\(port)", "--duration", "1", "--out", dir.file("d.pcap")],
            timeout: 30)
        #expect(quiet.status == 0 && quiet.stderr.contains("(duration)"), "\(quiet.stderr)")
        #expect(quiet.stderr.contains("packets                   0"), "\(quiet.stderr)")
        #expect(try datagrams(dir.file("d.pcap")).isEmpty)

        let open = try Commands.start(
            Commands.dsi, ["record", "--group", "239.255.7.4:\(port)", "--out", dir.file("i.pcap"), "--quiet"])
        try waitForCapture(dir.file("i.pcap"), open)
        open.signal(SIGINT)
        let stopped = try open.wait(timeout: 20)
        #expect(stopped.status == 0 && stopped.stderr.contains("(stopped)"), "\(stopped.stderr)")
        let read = try Commands.run("tshark", ["-r", dir.file("i.pcap")])
        #expect(read.status == 0, "a complete file: \(read.stderr)")
    }

    /// Past two seconds a command shows progress: on a pipe (as here) a plain line, not a redrawn one; none with
    /// --quiet, and none for work that ends sooner.
    @Test func progressAfterTwoSecondsAsPlainLinesOnAPipe() throws {
        let dir = try TemporaryDirectory("dsi-progress")
        defer { dir.remove() }
        let port = try FreePort.udp()
        func record(_ seconds: String, _ extra: [String] = []) throws -> String {
            let result = try Commands.run(
                Commands.dsi,
                ["record", "--group", "239.255.7.11:\(port)", "--duration", seconds, "--out", dir.file("p.pcap")] + extra,
                timeout: 30)
            #expect(result.status == 0, "\(result.stderr)")
            return result.stderr
        }
        let long = try record("2.6")
        let lines = long.split(separator: "\n").filter { $0.hasPrefix("record  ") }
        #expect(lines.count == 1, "\(long)")
        #expect(lines.first?.hasSuffix("0 packets  0/s  0:02") == true, "\(long)")
        #expect(!long.contains("\r") && !long.contains("\u{1B}["), "no terminal control on a pipe")
        #expect(!(try record("2.6", ["--quiet"])).contains("record  "))
        #expect(!(try record("0.5")).contains("record  "), "nothing for short work")
    }

    /// On a terminal (a pseudo-terminal from util-linux `script`), the progress is one line redrawn in place:
    /// carriage return and erase-line, several times, then cleared before the summary.
    @Test func progressOnATerminalIsOneRedrawnLine() throws {
        let dir = try TemporaryDirectory("dsi-progress-tty")
        defer { dir.remove() }
        let port = try FreePort.udp()
        let command = "\(Commands.dsi) record --group 239.255.7.13:\(port) --duration 3 --out \(dir.file("t.pcap"))"
        let result = try Commands.run("script", ["-qec", command, dir.file("typescript")], timeout: 30)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let seen = try String(contentsOfFile: dir.file("typescript"), encoding: .utf8)
        let redraws = seen.components(separatedBy: "\r\u{1B}[Krecord  ").count - 1
        #expect(redraws >= 3, "redrawn about five times a second after two seconds: \(seen.debugDescription)")
        #expect(
            seen.contains("\r\u{1B}[Kdsi record: \(dir.file("t.pcap"))"), "cleared before the summary: \(seen.debugDescription)")
    }

    @Test func refusesWhatItCannotRecordInWords() throws {
        let dir = try TemporaryDirectory("dsi-record-bad")
        defer { dir.remove() }
        let cases: [([String], String)] = [
            (["--group", "10.0.0.1:5000", "--out", dir.file("x.pcap")], "is not a multicast group"),
            (["--group", "239.255.7.5", "--out", dir.file("x.pcap")], "--group takes group:port"),
            (["--out", dir.file("x.pcap")], "give at least one --group"),
            (["--group", "239.255.7.5:5000", "--out", dir.file("x.pcap"), "--count", "0"], "--count must be at least 1"),
            (["--group", "239.255.7.5:5000", "--out", dir.path + "/missing/dir/x.pcap", "--duration", "1"], "cannot write"),
            (
                ["--group", "239.255.7.5:5000", "--interface", "192.0.2.77", "--out", dir.file("x.pcap"), "--duration", "1"],
                "no capture device has this address"
            ),
        ]
        for (arguments, message) in cases {
            let result = try Commands.run(Commands.dsi, ["record"] + arguments, timeout: 30)
            #expect(result.status != 0 && result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
    }
}
