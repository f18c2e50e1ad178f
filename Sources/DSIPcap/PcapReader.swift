import CPcap
import DSICore
import Glibc

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

    /// Latest capture time a record may carry (ns since the epoch, the year 2262): anything later is a damaged
    /// timestamp, read as this.
    public static let latestTime = UInt64(Int64.max)

    private let handle: OpaquePointer
    public let path: String
    public let linkType: Int32
    public private(set) var frames = 0
    public private(set) var skipped = Skipped()
    /// Set when the file ended in the middle of a record (a truncated capture).
    public private(set) var truncatedFile = false
    /// Why the file stopped being read early (libpcap's reason: a damaged record header, a record too large), if it did.
    public private(set) var damage: String? = nil
    /// Records whose timestamp was out of range (negative, or fractions of a second past a second): read as the
    /// nearest valid time.
    public private(set) var badTimestamps = 0

    /// A copy of the bytes of an in-memory capture, which libpcap reads through `fmemopen` (nil for a file).
    private let memory: UnsafeMutableRawBufferPointer?

    public convenience init(path: String) throws {
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let handle = pcap_open_offline_with_tstamp_precision(path, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errbuf) else {
            throw PcapError(path: path, errbuf: errbuf)
        }
        try self.init(handle: handle, path: path, memory: nil)
    }

    /// Reads a capture held in memory (tests, fuzzing); `name` stands for the path in messages.
    public convenience init(bytes: some Collection<UInt8>, name: String) throws {
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, bytes.count), alignment: 16)
        copy.copyBytes(from: bytes)
        // fmemopen refuses a zero-length buffer; an empty capture is read from one byte, which libpcap refuses too.
        guard let file = fmemopen(copy.baseAddress, max(1, bytes.count), "rb") else {
            copy.deallocate()
            throw PcapError(path: name, reason: "cannot open the bytes as a file (\(String(cString: strerror(errno))))")
        }
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let handle = pcap_fopen_offline_with_tstamp_precision(file, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errbuf) else {
            fclose(file)
            copy.deallocate()
            throw PcapError(path: name, errbuf: errbuf)
        }
        try self.init(handle: handle, path: name, memory: copy)
    }

    /// Takes ownership of an open handle (and the bytes it reads): both are released in deinit, whatever happens here.
    private init(handle: OpaquePointer, path: String, memory: UnsafeMutableRawBufferPointer?) throws {
        self.handle = handle
        self.path = path
        self.memory = memory
        linkType = pcap_datalink(handle)
        guard FrameParser.supports(linkType: linkType) else {
            // Every stored property is set: deinit closes the handle (closing it here too freed it twice).
            let name = pcap_datalink_val_to_name(linkType).map { String(cString: $0) } ?? "\(linkType)"
            throw PcapError(path: path, reason: "unsupported link type \(name) (Ethernet, Linux cooked and raw IP are)")
        }
    }

    deinit {
        pcap_close(handle)  // closes the FILE of an in-memory capture too
        memory?.deallocate()
    }

    /// Calls `body` with each UDP datagram in file order; other frames are counted in `skipped`.
    public func forEachDatagram(_ body: (Datagram) throws -> Void) throws {
        var header: UnsafeMutablePointer<pcap_pkthdr>? = nil
        var data: UnsafePointer<UInt8>? = nil
        while true {
            let status = pcap_next_ex(handle, &header, &data)
            if status == PCAP_ERROR_BREAK { return }  // end of file
            if status == PCAP_ERROR {
                // libpcap reports a record cut short by the end of the file, or a damaged record header, as an
                // error: keep what was read, say why the rest was not. It gives no code to tell them apart, only its
                // wording: "truncated dump file; tried to read N captured bytes, only got M" (sf-pcap.c).
                let reason = String(cString: pcap_geterr(handle))
                if reason.contains("truncated") { truncatedFile = true } else { damage = reason }
                return
            }
            guard status == 1, let header, let data else { continue }
            frames += 1
            let h = header.pointee
            let frame = UnsafeRawBufferPointer(start: data, count: Int(h.caplen))
            switch FrameParser.udp(in: frame, linkType: linkType, wireLength: Int(h.len)) {
            case .datagram(let udp):
                let time = captureTime(seconds: h.ts.tv_sec, fraction: h.ts.tv_usec)
                try body(
                    Datagram(
                        time: time, source: udp.source, destination: udp.destination,
                        sourcePort: udp.sourcePort, destinationPort: udp.destinationPort, payload: udp.payload))
            case .notIPv4UDP: skipped.notIPv4UDP += 1
            case .truncated: skipped.truncated += 1
            case .fragment: skipped.fragments += 1
            case .malformed: skipped.malformed += 1
            }
        }
    }

    /// A record's time in ns since the epoch. A damaged header may hold anything: negative values, fractions past a
    /// second, seconds beyond 2262; each is read as the nearest valid time and counted, never trapped on.
    func captureTime(seconds: Int, fraction: Int) -> UInt64 {
        guard seconds >= 0 else {
            badTimestamps += 1
            return 0
        }
        let whole = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        guard !whole.overflow, whole.partialValue <= Self.latestTime else {
            badTimestamps += 1
            return Self.latestTime
        }
        guard fraction >= 0, fraction < 1_000_000_000 else {
            badTimestamps += 1
            return whole.partialValue
        }
        return min(Self.latestTime, whole.partialValue + UInt64(fraction))
    }

    /// A one-line account of what was read and skipped, for stderr.
    public var summary: String {
        var parts = ["\(frames) frames"]
        if skipped.notIPv4UDP > 0 { parts.append("\(skipped.notIPv4UDP) not IPv4/UDP") }
        if skipped.truncated > 0 { parts.append("\(skipped.truncated) truncated by the snap length") }
        if skipped.fragments > 0 { parts.append("\(skipped.fragments) IP fragments") }
        if skipped.malformed > 0 { parts.append("\(skipped.malformed) malformed") }
        if badTimestamps > 0 { parts.append("\(badTimestamps) records with a damaged timestamp") }
        if truncatedFile { parts.append("file ends mid-record") }
        if let damage { parts.append("reading stopped at a damaged record (\(damage))") }
        return "\(path): " + parts.joined(separator: ", ")
    }
}
