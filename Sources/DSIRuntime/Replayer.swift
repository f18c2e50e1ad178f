import DSICore
import DSIFeeds
import DSINet
import DSIPcap

/// Sends a capture's UDP payloads to multicast with the capture's pacing, a multiple of it, a fixed rate, or flat out.
public struct Replayer {
    public struct Report: Sendable {
        public var datagrams = 0
        public var messages = 0
        public var skipped = 0
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

    /// - Parameter destinations: where each datagram goes (A and B lines: two); empty means the capture's own
    ///   destination.
    public init(destinations: [IPv4Endpoint], pacing: ReplayPacer.Mode, interface: IPv4Address = IPv4Address(0x7F00_0001), ttl: UInt8 = 0) {
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
        var report = Report()
        var lateness = LatencyHistogram()
        let start = Clock.monotonicNanos()
        try reader.forEachDatagram { datagram in
            if shouldStop() { return }
            lateness.record(pacer.wait(captureTime: datagram.time))
            let targets = destinations.isEmpty
                ? [IPv4Endpoint(address: datagram.destination, port: datagram.destinationPort)] : destinations
            for target in targets { try sender.send(datagram.payload, to: target) }
            report.datagrams += 1
            if let packet = MoldUDP64Packet(datagram.payload.baseAddress!, length: datagram.payload.count) {
                report.messages += packet.messageCount
            }
        }
        report.skipped = reader.skipped.total
        report.seconds = Double(Clock.monotonicNanos() - start) / 1e9
        report.lateness = lateness.summary
        return report
    }
}
