import DSICore
import DSIFeeds
import DSIPcap

/// Writes a generated session as a pcap: each MoldUDP64 packet in an Ethernet/IPv4/UDP frame to the feed's group.
public enum CaptureFile {
    public static let defaultGroup = IPv4Endpoint(address: IPv4Address(0xEFFF_0001), port: 30001)  // 239.255.0.1:30001
    public static let defaultSource = IPv4Endpoint(address: IPv4Address(0x7F00_0001), port: 40001)

    /// What was written when lines and drops were asked for.
    public struct Report: Sendable, Equatable {
        public var frames = 0
        public var dropped = 0
        /// Packets on no line at all: their messages are lost for good (a receiver must report them).
        public var droppedEverywhere: [(first: UInt64, count: Int)] = []
        public static func == (a: Report, b: Report) -> Bool {
            a.frames == b.frames && a.dropped == b.dropped && a.droppedEverywhere.map(\.first) == b.droppedEverywhere.map(\.first)
        }
    }

    /// Writes the session on `lines` lines (line i on the group whose last octet is the first group's plus i, same
    /// port), each packet line after line, each copy dropped with probability `drop` (seeded, so repeatable). With
    /// `keepOneCopy`, a packet is never dropped from every line (drops that arbitration alone can repair).
    @discardableResult
    public static func write(_ session: SessionGenerator.Session, to path: String, group: IPv4Endpoint = defaultGroup,
                             lines: Int = 1, drop: Double = 0, seed: UInt64 = 1, keepOneCopy: Bool = false) throws -> Report {
        let writer = try PcapWriter(path: path)
        var random = SplitMix64(seed: seed ^ 0x5EED)
        var report = Report()
        for (i, packet) in session.packets.enumerated() {
            var written = 0
            for line in 0..<lines {
                let lastChance = keepOneCopy && written == 0 && line == lines - 1
                if drop > 0 && Double(random.next() >> 11) / Double(1 << 53) < drop && !lastChance {
                    report.dropped += 1
                    continue
                }
                let destination = IPv4Address(group.address.value + UInt32(line))
                let frame = FrameBuilder.udpFrame(
                    payload: packet.payload, source: defaultSource.address, sourcePort: defaultSource.port,
                    destination: destination, destinationPort: group.port, identification: UInt16(truncatingIfNeeded: i))
                // A copy on a later line leaves a little later, as on a real B line.
                writer.write(frame: frame, time: packet.time + UInt64(line) * 1_000)
                written += 1
            }
            report.frames += written
            if written == 0 && packet.messageCount > 0 { report.droppedEverywhere.append((packet.firstSequence, packet.messageCount)) }
        }
        try writer.close()
        return report
    }
}
