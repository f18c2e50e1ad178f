import DSICore
import DSIFeeds
import DSIPcap
import DSIRuntime
import DSITestSupport
import DSITools
import Foundation
import Testing

/// Other capture formats, made by editcap (Wireshark's, not ours), read the same; MoldUDP64 framing agrees with
/// tshark's dissector packet by packet.
@Suite struct CaptureFormatTests {
    func datagrams(_ path: String) throws -> [(UInt64, [UInt8])] {
        let reader = try PcapReader(path: path)
        var out: [(UInt64, [UInt8])] = []
        try reader.forEachDatagram { out.append(($0.time, Array($0.payload))) }
        return out
    }

    @Test func pcapngAndMicrosecondFilesReadLikeTheOriginal() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try CaptureFile.write(try SessionGenerator.generate(.init(messages: 2_000, seed: 6)), to: dir.file("ns.pcap"))
        let ng = try Commands.run("editcap", ["-F", "pcapng", dir.file("ns.pcap"), dir.file("ng.pcapng")])
        #expect(ng.status == 0, "\(ng.stderr)")
        let us = try Commands.run("editcap", ["-F", "pcap", dir.file("ns.pcap"), dir.file("us.pcap")])
        #expect(us.status == 0, "\(us.stderr)")
        let original = try datagrams(dir.file("ns.pcap"))
        let fromNg = try datagrams(dir.file("ng.pcapng"))
        let fromUs = try datagrams(dir.file("us.pcap"))
        #expect(fromNg.map(\.1) == original.map(\.1) && fromNg.map(\.0) == original.map(\.0))
        #expect(fromUs.map(\.1) == original.map(\.1))
        #expect(zip(fromUs, original).allSatisfy { $0.0 == $1.0 / 1000 * 1000 }, "microsecond times, scaled to ns")
        // And the decoder's output is the same whatever the container.
        let a = try Commands.run(Commands.dsi, ["decode", dir.file("ns.pcap"), "--format", "jsonl"]).stdout
        let b = try Commands.run(Commands.dsi, ["decode", dir.file("ng.pcapng"), "--format", "jsonl"]).stdout
        #expect(a == b && a.split(separator: "\n").count == 2_000)
    }

    @Test func moldFramingMatchesTshark() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try CaptureFile.write(try SessionGenerator.generate(.init(messages: 3_000, seed: 12)), to: dir.file("m.pcap"))
        let out = try Commands.run(
            "tshark",
            [
                "-r", dir.file("m.pcap"), "-d", "udp.port==30001,moldudp64", "-T", "fields",
                "-E", "separator=|", "-e", "moldudp64.session", "-e", "moldudp64.sequence",
                "-e", "moldudp64.count", "-e", "moldudp64.msglen",
            ])
        #expect(out.status == 0, "\(out.stderr)")
        let theirs = out.stdout.split(separator: "\n").map(String.init)
        var ours: [String] = []
        for (_, payload) in try datagrams(dir.file("m.pcap")) {
            payload.withUnsafeBytes { raw in
                let packet = MoldUDP64Packet(raw.baseAddress!, length: raw.count)!
                var lengths: [String] = []
                packet.forEachMessage { _, _, length in lengths.append(String(length)) }
                ours.append(
                    [packet.session, String(packet.sequence), String(packet.rawCount), lengths.joined(separator: ",")]
                        .joined(separator: "|"))
            }
        }
        #expect(ours.count == theirs.count)
        #expect(ours == theirs)
    }

    @Test func nonMoldTrafficAndDamageAreSummarised() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let writer = try PcapWriter(path: dir.file("mixed.pcap"))
        let session = try SessionGenerator.generate(.init(messages: 100, seed: 1))
        let group = IPv4Address("239.255.0.1")!, source = IPv4Address("127.0.0.1")!
        for packet in session.packets {
            writer.write(
                frame: FrameBuilder.udpFrame(
                    payload: packet.payload, source: source, sourcePort: 1, destination: group, destinationPort: 30001),
                time: packet.time)
        }
        writer.write(
            frame: FrameBuilder.udpFrame(
                payload: Array("DNS-ish".utf8), source: source, sourcePort: 53, destination: group, destinationPort: 53), time: 1)
        var arp = FrameBuilder.udpFrame(payload: [1], source: source, sourcePort: 1, destination: group, destinationPort: 1)
        arp[12] = 0x08; arp[13] = 0x06
        writer.write(frame: arp, time: 2)
        try writer.close()
        let result = try Commands.run(Commands.dsi, ["decode", dir.file("mixed.pcap"), "--format", "jsonl"])
        #expect(result.status == 0)
        #expect(result.stdout.split(separator: "\n").count == 100)
        #expect(
            result.stderr.contains("1 not IPv4/UDP") && result.stderr.contains("not MoldUDP64     1 packets"), "\(result.stderr)")
    }
}

/// `dsi decode` on a capture of two lines where line B's copy of a packet comes after line A's next one: the late copy
/// still fills the gap (no gap printed), every message once, in sequence order.
@Suite struct DecodeArbitrationTests {
    @Test func lateCopyOnTheOtherLineFillsTheGap() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let session = try SessionGenerator.generate(.init(messages: 200, seed: 3))
        let writer = try PcapWriter(path: dir.file("late.pcap"))
        let source = IPv4Address("127.0.0.1")!, a = IPv4Address("239.255.0.1")!, b = IPv4Address("239.255.0.2")!
        let packets = session.packets
        // Line A lacks packet 3; line B sends packet 3 only after A's packet 4 and 5.
        for (i, p) in packets.enumerated() where i != 3 {
            writer.write(
                frame: FrameBuilder.udpFrame(
                    payload: p.payload, source: source, sourcePort: 1, destination: a, destinationPort: 30001), time: p.time)
            if i == 5 {
                let late = packets[3]
                writer.write(
                    frame: FrameBuilder.udpFrame(
                        payload: late.payload, source: source, sourcePort: 1, destination: b, destinationPort: 30001),
                    time: p.time + 1)
            }
        }
        try writer.close()
        let out = try Commands.run(Commands.dsi, ["decode", dir.file("late.pcap"), "--format", "jsonl"])
        #expect(out.status == 0, "\(out.stderr)")
        let lines = try jsonLines(out.stdout)
        #expect(lines.allSatisfy { $0["event"] == nil }, "no gap: line B filled it")
        #expect(lines.map { $0["seq"] as? Int } == (1...200).map { $0 })
    }
}
