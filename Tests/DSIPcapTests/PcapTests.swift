import DSICore
import DSIFeeds
import DSIPcap
import DSIRuntime
import DSITestSupport
import DSITools
import Foundation
import Testing

@Suite struct PcapTests {
    static let realCapture =
        Commands.root + "/../shared/data/pcaps/Nasdaq_Nasdaq.Equities.TotalView.Itch.v5.0_Multiple.Packets.pcap"

    @Test func writtenFileReadsBackWithNanosecondTimes() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let session = try SessionGenerator.generate(.init(messages: 500, seed: 4))
        try CaptureFile.write(session, to: dir.file("a.pcap"))
        let reader = try PcapReader(path: dir.file("a.pcap"))
        var times: [UInt64] = []
        var payloads: [[UInt8]] = []
        try reader.forEachDatagram { d in
            times.append(d.time)
            payloads.append(Array(d.payload))
            #expect(d.destination.description == "239.255.0.1" && d.destinationPort == 30001)
        }
        #expect(times == session.packets.map(\.time))
        #expect(payloads == session.packets.map(\.payload))
        #expect(reader.skipped.total == 0)
    }

    /// tshark (independent) reads our file: same frame count, nanosecond timestamps, valid IPv4 checksums, and
    /// MoldUDP64 sequence numbers.
    @Test func tsharkAgreesWithWrittenFile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let session = try SessionGenerator.generate(.init(messages: 300, seed: 8))
        try CaptureFile.write(session, to: dir.file("t.pcap"))
        let out = try Commands.run(
            "tshark",
            [
                "-r", dir.file("t.pcap"), "-o", "ip.check_checksum:TRUE", "-d", "udp.port==30001,moldudp64",
                "-T", "fields", "-E", "separator=|", "-e", "frame.time_epoch", "-e", "ip.checksum.status",
                "-e", "moldudp64.sequence", "-e", "moldudp64.count",
            ])
        #expect(out.status == 0, "\(out.stderr)")
        let rows = out.stdout.split(separator: "\n").map {
            $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        }
        #expect(rows.count == session.packets.count)
        for (row, packet) in zip(rows, session.packets) {
            let seconds = row[0].split(separator: ".")
            #expect(UInt64(seconds[0])! * 1_000_000_000 + UInt64(seconds[1].prefix(9))! == packet.time)
            #expect(row[1] == "1", "IPv4 header checksum good")  // tshark's checksum status: 0 bad, 1 good, 2 unverified
            #expect(UInt64(row[2]) == packet.firstSequence)
            #expect(Int(row[3]) == (packet.messageCount == 0 ? 65535 : packet.messageCount))
        }
    }

    @Test func realCaptureWithVLANTag() throws {
        let reader = try PcapReader(path: Self.realCapture)
        var seen: [(String, UInt16, Int)] = []
        try reader.forEachDatagram { d in seen.append((d.destination.description, d.destinationPort, d.payload.count)) }
        #expect(seen.count == 2)
        #expect(seen.allSatisfy { $0.0 == "233.54.12.111" && $0.1 == 26477 })
        #expect(seen.map(\.2) == [41, 1472], "as tshark reads them: UDP lengths 49 and 1480, less the 8-byte header")
    }

    @Test func missingAndGarbageFilesGiveClearErrors() throws {
        #expect { try PcapReader(path: "/nonexistent/x.pcap") } throws: { error in
            "\(error)" == "/nonexistent/x.pcap: No such file or directory"
        }
        #expect { try PcapWriter(path: "/nonexistent/x.pcap") } throws: { error in
            "\(error)" == "/nonexistent/x.pcap: cannot write: No such file or directory"
        }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        _ = FileManager.default.createFile(atPath: dir.file("junk.pcap"), contents: Data("this is not a capture at all".utf8))
        #expect { try PcapReader(path: dir.file("junk.pcap")) } throws: { "\($0)".contains("junk.pcap") }
    }

    @Test func truncatedFileKeepsWhatWasRead() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let session = try SessionGenerator.generate(.init(messages: 400, seed: 2))
        try CaptureFile.write(session, to: dir.file("full.pcap"))
        var bytes = try Data(contentsOf: URL(fileURLWithPath: dir.file("full.pcap")))
        bytes.removeLast(30)
        try bytes.write(to: URL(fileURLWithPath: dir.file("cut.pcap")))
        let reader = try PcapReader(path: dir.file("cut.pcap"))
        var count = 0
        try reader.forEachDatagram { _ in count += 1 }
        #expect(count == session.packets.count - 1)
        #expect(reader.truncatedFile)
        #expect(reader.summary.contains("ends mid-record"))
    }

    @Test func nonUDPAndDamagedFramesAreClassified() throws {
        let good = FrameBuilder.udpFrame(
            payload: [1, 2, 3, 4], source: IPv4Address("10.0.0.1")!, sourcePort: 1,
            destination: IPv4Address("239.1.1.1")!, destinationPort: 2)
        var arp = good
        arp[12] = 0x08; arp[13] = 0x06
        var tcp = good
        tcp[14 + 9] = 6
        var fragment = good
        fragment[14 + 6] = 0x20  // more fragments
        var lying = good
        lying[14 + 20 + 4] = 0xFF  // UDP length larger than the packet
        func classify(_ frame: [UInt8], wire: Int? = nil) -> String {
            frame.withUnsafeBytes { raw in
                switch FrameParser.udp(in: raw, linkType: 1, wireLength: wire ?? frame.count) {
                case .datagram(let d): return "udp\(d.payload.count)"
                case .notIPv4UDP: return "other"
                case .truncated: return "truncated"
                case .fragment: return "fragment"
                case .malformed: return "malformed"
                }
            }
        }
        #expect(classify(good) == "udp4")
        #expect(classify(arp) == "other")
        #expect(classify(tcp) == "other")
        #expect(classify(fragment) == "fragment")
        #expect(classify(lying) == "malformed")
        #expect(classify(Array(good.prefix(30)), wire: good.count) == "truncated")
        #expect(classify(Array(good.prefix(10))) == "truncated")
    }

    @Test func pacerDeadlines() {
        var fixed = ReplayPacer(mode: .packetsPerSecond(1000))
        let a = fixed.deadline(captureTime: 0), b = fixed.deadline(captureTime: 0), c = fixed.deadline(captureTime: 0)
        #expect(b - a == 1_000_000 && c - b == 1_000_000)
        var scaled = ReplayPacer(mode: .original(speed: 2))
        let s0 = scaled.deadline(captureTime: 5_000_000_000), s1 = scaled.deadline(captureTime: 5_004_000_000)
        #expect(s1 - s0 == 2_000_000, "4 ms of capture at 2x speed is 2 ms")
        var top = ReplayPacer(mode: .topSpeed)
        #expect(top.wait(captureTime: 1) == 0)
    }

    /// The capture header's link type (bytes 20...23, little-endian in a file `PcapWriter` made).
    func withLinkType(_ bytes: [UInt8], _ type: UInt32) -> [UInt8] {
        var b = bytes
        for i in 0..<4 { b[20 + i] = UInt8(truncatingIfNeeded: type >> (8 * UInt32(i))) }
        return b
    }

    func generatedCapture() throws -> [UInt8] {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try CaptureFile.write(try SessionGenerator.generate(.init(messages: 100, seed: 3)), to: dir.file("g.pcap"))
        return Array(try Data(contentsOf: URL(fileURLWithPath: dir.file("g.pcap"))))
    }

    @Test func anUnsupportedLinkTypeIsRefusedWithoutFreeingTwice() throws {
        let bytes = withLinkType(try generatedCapture(), 105)  // IEEE 802.11
        for _ in 0..<50 {  // a double free would abort within a few rounds
            #expect { try PcapReader(bytes: bytes, name: "wifi.pcap") } throws: { error in
                "\(error)".contains("wifi.pcap") && "\(error)".contains("unsupported link type")
            }
        }
    }

    @Test func damagedTimestampsAreReadAsTheNearestValidTime() throws {
        var bytes = try generatedCapture()
        // The first record's seconds with the top bit set, the second's fraction past a second.
        bytes.replaceSubrange(24..<28, with: [0xFF, 0xFF, 0xFF, 0xFF])
        let second = 24 + 16 + Int(UInt32(bytes[32]) | UInt32(bytes[33]) << 8 | UInt32(bytes[34]) << 16 | UInt32(bytes[35]) << 24)
        bytes.replaceSubrange(second + 4..<second + 8, with: [0xFF, 0xFF, 0xFF, 0x7F])
        let reader = try PcapReader(bytes: bytes, name: "stamps.pcap")
        var times: [UInt64] = []
        try reader.forEachDatagram { times.append($0.time) }
        #expect(times.count > 2 && times.allSatisfy { $0 <= PcapReader.latestTime })
        #expect(times[0] == 0, "seconds with the top bit set (negative to libpcap) read as the epoch, not trapped on")
        #expect(reader.badTimestamps == 2, "both damaged stamps counted")
        #expect(reader.summary.contains("2 records with a damaged timestamp"))
        #expect(reader.summary.contains("stamps.pcap"))
    }

    @Test func aCaptureWhoseClockJumpsADayIsReplayedWithoutWaitingADay() {
        var pacer = ReplayPacer(mode: .original(speed: 1))
        pacer.maxGapNanos = 2_000_000_000
        let t0: UInt64 = 1_000_000_000_000
        let d0 = pacer.deadline(captureTime: t0)
        let d1 = pacer.deadline(captureTime: t0 + 86_400_000_000_000)  // a day later
        let d2 = pacer.deadline(captureTime: t0 + 86_400_001_000_000)
        #expect(d1 - d0 == 2_000_000_000, "the day is shortened to the longest gap allowed")
        #expect(d2 - d1 == 1_000_000, "pacing goes on from there")
        #expect(pacer.clampedGaps == 1 && pacer.longestClampedGap == 86_400_000_000_000)
        let d3 = pacer.deadline(captureTime: t0)  // and back again: a new timeline, sent at once
        #expect(d3 == d2 && pacer.backwardSteps == 1)
        let d4 = pacer.deadline(captureTime: t0 + 500_000)
        #expect(d4 - d3 == 500_000)
    }

    @Test func aFixedRateOrTopSpeedShortensNoGapAndReportsNone() {
        for mode in [ReplayPacer.Mode.topSpeed, .packetsPerSecond(1e6)] {
            var pacer = ReplayPacer(mode: mode)
            pacer.maxGapNanos = 2_000_000_000
            _ = pacer.deadline(captureTime: 1_000)
            _ = pacer.deadline(captureTime: 1_000 + 86_400_000_000_000)
            #expect(pacer.clampedGaps == 0 && pacer.longestClampedGap == 0, "\(mode): the capture's spacing is not followed")
        }
    }
}
