import CPcap
import Glibc

/// Writes a pcap file with nanosecond timestamps through libpcap (`pcap_dump`), Ethernet link type.
public final class PcapWriter {
    private let handle: OpaquePointer
    private let dumper: OpaquePointer
    public let path: String
    public private(set) var packetsWritten = 0

    public init(path: String, snaplen: Int32 = 65535) throws {
        guard let handle = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, snaplen, UInt32(PCAP_TSTAMP_PRECISION_NANO)) else {
            throw PcapError(path: path, reason: "libpcap could not create a capture handle")
        }
        guard let dumper = pcap_dump_open(handle, path) else {
            let reason = String(cString: pcap_geterr(handle))
            pcap_close(handle)
            throw PcapError(path: path, libpcap: reason, context: "cannot write: ")
        }
        self.handle = handle
        self.dumper = dumper
        self.path = path
    }

    /// Appends one frame captured at `time` (ns since the Unix epoch).
    public func write(frame: [UInt8], time: UInt64) {
        var header = pcap_pkthdr()
        header.ts.tv_sec = Int(time / 1_000_000_000)
        header.ts.tv_usec = Int(time % 1_000_000_000)  // nanoseconds: the file is nanosecond-precision
        header.caplen = UInt32(frame.count)
        header.len = UInt32(frame.count)
        frame.withUnsafeBufferPointer { bytes in
            // pcap_dump's first argument is the dumper passed as libpcap's opaque "user" pointer.
            pcap_dump(UnsafeMutablePointer<UInt8>(dumper), &header, bytes.baseAddress)
        }
        packetsWritten += 1
    }

    /// Flushes and closes the file; throws if the data did not reach it.
    public func close() throws {
        let flushed = pcap_dump_flush(dumper)
        pcap_dump_close(dumper)
        pcap_close(handle)
        closed = true
        if flushed != 0 { throw PcapError(path: path, reason: "write failed: \(String(cString: strerror(errno)))") }
    }

    private var closed = false
    deinit {
        if !closed {
            pcap_dump_close(dumper)
            pcap_close(handle)
        }
    }
}
