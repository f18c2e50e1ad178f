import DSICore
import DSIFeeds
import DSINet
import DSIPcap

/// Sends a capture's UDP payloads to multicast with the capture's pacing, a multiple of it, a fixed rate, or flat out.
public struct Replayer {
    public struct Report: Sendable {
        public var datagrams = 0
        /// Copies not sent because of `dropProbability`, and datagrams dropped on every destination.
        public var dropped = 0
        public var droppedEverywhere = 0
        public var messages = 0
        public var skipped = 0
        /// MoldUDP64 packets before `fromSequence`, not sent.
        public var skippedBeforeStart = 0
        /// Gaps in the capture shortened to the longest allowed, and the longest of them (ns).
        public var clampedGaps = 0
        public var longestClampedGap: UInt64 = 0
        /// The reader's account of the file (frames, what was skipped, damage).
        public var captureSummary = ""
        public var seconds = 0.0
        /// How late packets left, against their due time (ns).
        public var lateness = LatencySummary(count: 0, p50: 0, p99: 0, p999: 0, max: 0)
    }

    public var destinations: [IPv4Endpoint]
    public var pacing: ReplayPacer.Mode
    public var interface: IPv4Address
    public var ttl: UInt8
    /// Spin (rather than sleep) for the last this-many ns before a packet is due; 0 sleeps only, which leaves the
    /// CPU to the handler when both share a small machine.
    public var spinThresholdNanos: UInt64 = 100_000
    /// Gaps in the capture longer than this (ns) are shortened to it (nil keeps them): see `ReplayPacer.maxGapNanos`.
    public var maxGapNanos: UInt64? = ReplayPacer.defaultMaxGapNanos
    /// Drop each datagram to each destination with this probability (independently per destination), to exercise
    /// arbitration and recovery; 0 sends everything.
    public var dropProbability = 0.0
    public var dropSeed: UInt64 = 1
    /// Send to this port instead of each packet's own (with `destinations` empty): replays a capture's lines onto
    /// other ports, as tests do to stay apart.
    public var portOverride: UInt16? = nil
    /// Skip MoldUDP64 packets that start before this sequence number: a handler sees the session from the middle,
    /// as one started late would.
    public var fromSequence: UInt64? = nil

    /// - Parameter destinations: where each datagram goes (A and B lines: two); empty means the capture's own
    ///   destination.
    public init(
        destinations: [IPv4Endpoint], pacing: ReplayPacer.Mode, interface: IPv4Address = IPv4Address(0x7F00_0001), ttl: UInt8 = 0
    ) {
        self.destinations = destinations
        self.pacing = pacing
        self.interface = interface
        self.ttl = ttl
    }

    public func replay(path: String, shouldStop: () -> Bool = { false }) throws -> Report {
        let reader = try PcapReader(path: path)
        let sender = try MulticastSender(interface: interface, ttl: ttl)
        var pacer = ReplayPacer(mode: pacing)
        pacer.spinThresholdNanos = spinThresholdNanos
        pacer.maxGapNanos = maxGapNanos
        var report = Report()
        var lateness = LatencyHistogram()
        var random = SplitMix64(seed: dropSeed)
        let start = Clock.monotonicNanos()
        try reader.forEachDatagram { datagram in
            if shouldStop() { return }
            let packet = datagram.payload.baseAddress.flatMap { MoldUDP64Packet($0, length: datagram.payload.count) }
            if let fromSequence, let packet, packet.sequence < fromSequence {
                report.skippedBeforeStart += 1
                return
            }
            lateness.record(pacer.wait(captureTime: datagram.time))
            let targets =
                destinations.isEmpty
                ? [IPv4Endpoint(address: datagram.destination, port: portOverride ?? datagram.destinationPort)] : destinations
            var sentAny = false
            for target in targets {
                if random.chance(dropProbability) {
                    report.dropped += 1
                    continue
                }
                try sender.send(datagram.payload, to: target)
                sentAny = true
            }
            if !sentAny { report.droppedEverywhere += 1 }
            report.datagrams += 1
            if let packet { report.messages += packet.messageCount }
        }
        report.skipped = reader.skipped.total
        report.clampedGaps = pacer.clampedGaps
        report.longestClampedGap = pacer.longestClampedGap
        report.captureSummary = reader.summary
        report.seconds = Double(Clock.monotonicNanos() - start) / 1e9
        report.lateness = lateness.summary
        return report
    }
}

extension RecoveryServer.Store {
    /// Every MoldUDP64 message in a capture, by sequence number (the first copy of each, whatever line it was on).
    public static func load(capture path: String) throws -> RecoveryServer.Store {
        let store = RecoveryServer.Store()
        let reader = try PcapReader(path: path)
        try reader.forEachDatagram { datagram in
            guard let base = datagram.payload.baseAddress,
                let packet = MoldUDP64Packet(base, length: datagram.payload.count), packet.blocksAreWellFormed
            else { return }
            let session = packet.sessionKey
            // A sequence near 2^64 (a damaged capture) would wrap: such a packet is no session's.
            guard packet.sequence < UInt64.max - UInt64(packet.messageCount) else { return }
            packet.forEachMessage { index, message, length in
                store.add(
                    session: session, seq: packet.sequence + UInt64(index),
                    message: Array(UnsafeRawBufferPointer(start: message, count: length)))
            }
        }
        return store
    }
}
