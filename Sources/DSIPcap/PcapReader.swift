import CPcap
import DSICore

/// Reads pcap and pcapng files through libpcap with nanosecond timestamps (microsecond files are scaled up), and
/// finds the UDP datagram in each frame.
public final class PcapReader {
    /// One captured frame's UDP datagram.
    public struct Datagram {
        /// Capture time, ns since the Unix epoch.
        public var time: UInt64
        public var source: IPv4Address
        public var destination: IPv4Address
        public var sourcePort: UInt16
        public var destinationPort: UInt16
        /// The UDP payload; valid only inside the `forEachDatagram` call that lends it.
        public var payload: UnsafeRawBufferPointer
    }

    /// What was not a usable UDP datagram, by reason.
    public struct Skipped: Sendable, Equatable {
        public var notIPv4UDP = 0
        public var truncated = 0
        public var fragments = 0
        public var malformed = 0
        public var total: Int { notIPv4UDP + truncated + fragments + malformed }
    }

    private let handle: OpaquePointer
    public let path: String
    public let linkType: Int32
    public private(set) var frames = 0
    public private(set) var skipped = Skipped()
    /// Set when the file ended in the middle of a record (a truncated capture).
    public private(set) var truncatedFile = false

    public init(path: String) throws {
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let handle = pcap_open_offline_with_tstamp_precision(path, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errbuf) else {
            throw PcapError(path: path, reason: errbuf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
        }
        self.handle = handle
        self.path = path
        linkType = pcap_datalink(handle)
        guard FrameParser.supports(linkType: linkType) else {
            let name = pcap_datalink_val_to_name(linkType).map { String(cString: $0) } ?? "\(linkType)"
            pcap_close(handle)
            throw PcapError(path: path, reason: "unsupported link type \(name) (Ethernet, Linux cooked and raw IP are)")
        }
    }

    deinit { pcap_close(handle) }

    /// Calls `body` with each UDP datagram in file order; other frames are counted in `skipped`.
    public func forEachDatagram(_ body: (Datagram) throws -> Void) throws {
        var header: UnsafeMutablePointer<pcap_pkthdr>? = nil
        var data: UnsafePointer<UInt8>? = nil
        while true {
            let status = pcap_next_ex(handle, &header, &data)
            if status == PCAP_ERROR_BREAK { return }  // end of file
            if status == PCAP_ERROR {
                // libpcap reports a record cut short by the end of the file as an error: keep what was read.
                truncatedFile = true
                return
            }
            guard status == 1, let header, let data else { continue }
            frames += 1
            let h = header.pointee
            let time = UInt64(h.ts.tv_sec) * 1_000_000_000 + UInt64(h.ts.tv_usec)
            let frame = UnsafeRawBufferPointer(start: data, count: Int(h.caplen))
            switch FrameParser.udp(in: frame, linkType: linkType, wireLength: Int(h.len)) {
            case .datagram(let udp):
                try body(Datagram(time: time, source: udp.source, destination: udp.destination,
                                  sourcePort: udp.sourcePort, destinationPort: udp.destinationPort, payload: udp.payload))
            case .notIPv4UDP: skipped.notIPv4UDP += 1
            case .truncated: skipped.truncated += 1
            case .fragment: skipped.fragments += 1
            case .malformed: skipped.malformed += 1
            }
        }
    }

    /// A one-line account of what was read and skipped, for stderr.
    public var summary: String {
        var parts = ["\(frames) frames"]
        if skipped.notIPv4UDP > 0 { parts.append("\(skipped.notIPv4UDP) not IPv4/UDP") }
        if skipped.truncated > 0 { parts.append("\(skipped.truncated) truncated by the snap length") }
        if skipped.fragments > 0 { parts.append("\(skipped.fragments) IP fragments") }
        if skipped.malformed > 0 { parts.append("\(skipped.malformed) malformed") }
        if truncatedFile { parts.append("file ends mid-record") }
        return "\(path): " + parts.joined(separator: ", ")
    }
}
