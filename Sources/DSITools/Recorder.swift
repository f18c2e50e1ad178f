import DSICore
import DSINet
import DSIPcap

/// `dsi record`: joins multicast groups on an interface and writes what arrives for them to a pcap file through
/// libpcap, with nanosecond timestamps, until a packet count, a duration, or a stop request.
public struct Recorder {
    public struct Report: Sendable {
        public var statistics = PcapCapture.Statistics()
        public var seconds = 0.0
        public var device = ""
        public var timestampSource = ""
        /// Why it stopped: "count", "duration" or "stopped".
        public var ended = ""
    }

    public var groups: [IPv4Endpoint]
    public var interface: IPv4Address
    public var path: String
    public var count: UInt64? = nil
    public var durationNanos: UInt64? = nil
    public var bufferBytes: Int32 = 128 << 20
    public var snaplen: Int32 = 9_216

    public init(groups: [IPv4Endpoint], interface: IPv4Address, path: String) {
        self.groups = groups
        self.interface = interface
        self.path = path
    }

    /// libpcap's filter for the groups: UDP to each group and port.
    public var filter: String {
        "udp and (" + groups.map { "(dst host \($0.address) and dst port \($0.port))" }.joined(separator: " or ") + ")"
    }

    /// Records until the count, the duration or `shouldStop()`. `ready` is called once capturing has begun (with
    /// the device), so a caller can start the traffic.
    public func record(progress: ProgressLine? = nil, shouldStop: () -> Bool = { false }, ready: (String) -> Void = { _ in })
        throws -> Report
    {
        let device = try PcapCapture.device(holding: interface)
        let capture = try PcapCapture(
            device: device, filter: filter, path: path, snaplen: snaplen, bufferBytes: bufferBytes)
        let membership = try MulticastMembership(groups: groups.map(\.address), interface: interface)
        var report = Report()
        report.device = device
        report.timestampSource = capture.timestampSource
        ready(device)
        let start = Clock.monotonicNanos()
        var written: UInt64 = 0
        while true {
            if let count, written >= count {
                report.ended = "count"
                break
            }
            if let durationNanos, Clock.monotonicNanos() &- start >= durationNanos {
                report.ended = "duration"
                break
            }
            if shouldStop() {
                report.ended = "stopped"
                break
            }
            let room = count.map { Int32(clamping: $0 - written) } ?? 4_096
            written += UInt64(try capture.capture(limit: min(room, 4_096)))
            progress?.update(written)
        }
        report.seconds = Double(Clock.monotonicNanos() &- start) / 1e9
        progress?.finish()
        try capture.finish()
        report.statistics = capture.statistics
        withExtendedLifetime(membership) {}
        return report
    }
}
