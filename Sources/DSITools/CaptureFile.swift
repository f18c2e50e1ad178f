import DSICore
import DSIFeeds
import DSIPcap

/// Writes a generated session as a pcap: each MoldUDP64 packet in an Ethernet/IPv4/UDP frame to the feed's group,
/// on one or more lines, optionally with the faults of a bad network (drops, copies, reordering, stray packets).
public enum CaptureFile {
    public static let defaultGroup = IPv4Endpoint(address: IPv4Address(0xEFFF_0001), port: 30001)  // 239.255.0.1:30001
    public static let defaultSource = IPv4Endpoint(address: IPv4Address(0x7F00_0001), port: 40001)
    /// The session stray packets claim to be from.
    public static let straySession = "STRAY00001"
    /// Where stray packets of the session's own name start: implausibly far ahead of any real day.
    public static let wildSequence: UInt64 = 1_000_000_000_000

    /// How the session goes on the wire.
    public struct Layout: Sendable {
        public var group = CaptureFile.defaultGroup
        /// Lines (A, B, ...): line i goes to the group whose last octet is the first group's plus i, same port.
        public var lines = 1
        /// Each copy of a packet on each line is dropped with this probability.
        public var drop = 0.0
        /// With `drop`: never drop a packet from every line (drops that arbitration alone can repair).
        public var keepOneCopy = false
        /// Seeds every random choice, so a capture is repeatable.
        public var seed: UInt64 = 1
        /// How much later each further line's copy leaves (ns): a B line a few milliseconds behind A.
        public var lineSkewNanos: UInt64 = 1_000
        public var faults = Faults()
        public init() {}
    }

    /// What a broken switch or a hostile network adds.
    public struct Faults: Sendable {
        /// Packets of another session (`straySession`), at random points.
        public var foreignPackets = 0
        /// Packets of the session's own name with a sequence number implausibly far ahead (from `wildSequence`).
        public var wildPackets = 0
        /// Probability that a copy is written twice.
        public var duplicate = 0.0
        /// Probability that a copy is held back and written a few packets later.
        public var reorder = 0.0
        public init() {}
        public var any: Bool { foreignPackets > 0 || wildPackets > 0 || duplicate > 0 || reorder > 0 }
    }

    /// What was written.
    public struct Report: Sendable, Equatable {
        public var frames = 0
        public var dropped = 0
        /// Packets on no line at all: their messages are lost for good (a receiver must report them).
        public var droppedEverywhere: [(first: UInt64, count: Int)] = []
        /// Stray packets written (other sessions, wild sequence numbers).
        public var strays = 0
        public var duplicated = 0
        public var reordered = 0
        public static func == (a: Report, b: Report) -> Bool {
            a.frames == b.frames && a.dropped == b.dropped && a.droppedEverywhere.map(\.first) == b.droppedEverywhere.map(\.first)
                && a.strays == b.strays && a.duplicated == b.duplicated && a.reordered == b.reordered
        }
    }

    @discardableResult
    public static func write(
        _ session: SessionGenerator.Session, to path: String, group: IPv4Endpoint = defaultGroup,
        lines: Int = 1, drop: Double = 0, seed: UInt64 = 1, keepOneCopy: Bool = false
    ) throws -> Report {
        var layout = Layout()
        layout.group = group
        layout.lines = lines
        layout.drop = drop
        layout.seed = seed
        layout.keepOneCopy = keepOneCopy
        return try write(session, to: path, layout: layout)
    }

    /// Writes the session, packet after packet, each on every line (unless dropped), in the order the frames would
    /// leave: a line running `lineSkewNanos` behind has its copies written that much later among the others'.
    @discardableResult
    public static func write(_ session: SessionGenerator.Session, to path: String, layout: Layout) throws -> Report {
        let writer = try PcapWriter(path: path)
        // Frames by departure time, first written first among equal times (a stable order for copies and strays).
        var frames: [(time: UInt64, frame: [UInt8])] = []
        frames.reserveCapacity(session.packets.count * layout.lines)
        var random = SplitMix64(seed: layout.seed ^ 0x5EED)
        var report = Report()
        let packets = session.packets
        // Where the strays go: packet indices, chosen up front so that the count is exact.
        var strayAt: [Int: [Bool]] = [:]  // index → [isForeign]
        for foreign in [true, false] {
            for _ in 0..<(foreign ? layout.faults.foreignPackets : layout.faults.wildPackets) where !packets.isEmpty {
                strayAt[Int(random.next() % UInt64(packets.count)), default: []].append(foreign)
            }
        }
        var held: [(frame: [UInt8], due: Int)] = []
        func frame(_ payload: [UInt8], line: Int, index: Int) -> [UInt8] {
            FrameBuilder.udpFrame(
                payload: payload, source: defaultSource.address, sourcePort: defaultSource.port,
                destination: IPv4Address(layout.group.address.value + UInt32(line)), destinationPort: layout.group.port,
                identification: UInt16(truncatingIfNeeded: index))
        }
        for (i, packet) in packets.enumerated() {
            var written = 0
            for line in 0..<layout.lines {
                let lastChance = layout.keepOneCopy && written == 0 && line == layout.lines - 1
                if random.chance(layout.drop) && !lastChance {
                    report.dropped += 1
                    continue
                }
                written += 1
                let copy = frame(packet.payload, line: line, index: i)
                // A copy on a later line leaves a little later, as on a real B line.
                let time = packet.time + UInt64(line) * layout.lineSkewNanos
                if random.chance(layout.faults.reorder) {
                    held.append((copy, i + 1 + Int(random.next() % 4)))
                    report.reordered += 1
                    continue
                }
                frames.append((time, copy))
                report.frames += 1
                if random.chance(layout.faults.duplicate) {
                    frames.append((time, copy))
                    report.frames += 1
                    report.duplicated += 1
                }
            }
            // Held-back copies come out a few packets late, stamped when they are written.
            while let at = held.firstIndex(where: { $0.due <= i }) {
                frames.append((packet.time, held.remove(at: at).frame))
                report.frames += 1
            }
            for foreign in strayAt[i] ?? [] {
                let stray =
                    foreign
                    ? MoldUDP64Builder(session: straySession).packet(first: 1 + random.next() % 1000, messages: strayMessages)
                    : MoldUDP64Builder(session: session.name).packet(
                        first: wildSequence + random.next() % 1_000_000,
                        messages: strayMessages)
                frames.append((packet.time, frame(stray, line: Int(random.next() % UInt64(layout.lines)), index: i)))
                report.frames += 1
                report.strays += 1
            }
            if written == 0 && packet.messageCount > 0 {
                report.droppedEverywhere.append((packet.firstSequence, packet.messageCount))
            }
        }
        for late in held {
            frames.append((packets.last?.time ?? 0, late.frame))
            report.frames += 1
        }
        let order = frames.indices.sorted { (frames[$0].time, $0) < (frames[$1].time, $1) }
        for i in order { writer.write(frame: frames[i].frame, time: frames[i].time) }
        try writer.close()
        return report
    }

    /// What a stray packet carries: a trading halt of a symbol no session has, so that a subscriber would see it if
    /// it were ever taken for data.
    static let strayMessages: [[UInt8]] = [
        try! ITCHEncoder.message("H", locate: 1, timestamp: 1, ["STRAY", "H", " ", "XXXX"]),
        try! ITCHEncoder.message("S", locate: 0, timestamp: 2, ["C"]),
    ]
}
