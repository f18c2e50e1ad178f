import CPcap
import DSICore
import Glibc

/// A live capture through libpcap into a pcap file: nanosecond timestamps, from the NIC when it stamps packets
/// (`PCAP_TSTAMP_ADAPTER`), from the kernel otherwise; packets handed over as they arrive (immediate mode), a capture
/// filter compiled by libpcap, and libpcap's and the kernel's drop counts.
public final class PcapCapture {
    public struct Statistics: Sendable, Equatable {
        /// Packets and bytes written to the file.
        public var packets: UInt64 = 0
        public var bytes: UInt64 = 0
        /// What libpcap reports (`pcap_stats`): packets the filter passed, dropped for lack of buffer space, and
        /// dropped by the interface or its driver.
        public var received: UInt64 = 0
        public var dropped: UInt64 = 0
        public var interfaceDropped: UInt64 = 0
        /// Packets longer than the snapshot length, written cut to it.
        public var truncated: UInt64 = 0

        public init() {}
    }

    /// The device captured on ("lo", "eth0").
    public let device: String
    /// Where the timestamps come from, in words ("the NIC (adapter)", "the kernel (host)").
    public let timestampSource: String
    public let path: String
    private let handle: OpaquePointer
    private var dumper: OpaquePointer?
    /// The descriptor to poll for packets.
    private let selectable: Int32
    /// Counted by the per-packet callback (it gets this object's address as libpcap's "user" pointer).
    private var counts = Statistics()

    /// Opens `device` for capture with `filter` (libpcap's filter language) and starts writing to `path`.
    /// - Parameters:
    ///   - snaplen: the most bytes kept of a packet. The kernel's ring is cut into slots of this size, so it also sets
    ///     how many packets a burst can queue: 9 216 (a jumbo frame) keeps every feed packet whole and gives a
    ///     128 MiB ring some 14 000 slots, where 65 535 gave a 64 MiB ring about 1 000 and lost bursts at top speed.
    ///   - bufferBytes: libpcap's kernel ring: what absorbs a burst while the file is written.
    public init(device: String, filter: String, path: String, snaplen: Int32 = 9_216, bufferBytes: Int32 = 128 << 20)
        throws
    {
        let (handle, source) = try Self.open(device: device, filter: filter, snaplen: snaplen, bufferBytes: bufferBytes)
        self.handle = handle
        self.device = device
        self.path = path
        timestampSource = source
        selectable = pcap_get_selectable_fd(handle)
        // Every property is set: from here a throw runs deinit, which closes the handle.
        // The file takes the handle's nanosecond precision (its magic number says so).
        guard let dumper = pcap_dump_open(handle, path) else {
            throw PcapError(path: path, libpcap: String(cString: pcap_geterr(handle)), context: "cannot write: ")
        }
        self.dumper = dumper
    }

    /// An active, filtered, non-blocking handle on `device`, and where its timestamps come from; closed again when
    /// any step fails.
    private static func open(device: String, filter: String, snaplen: Int32, bufferBytes: Int32) throws
        -> (OpaquePointer, String)
    {
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let handle = pcap_create(device, &errbuf) else {
            throw PcapError(path: device, errbuf: errbuf)
        }
        do {
            return (handle, try configure(handle, device: device, filter: filter, snaplen: snaplen, bufferBytes: bufferBytes))
        } catch {
            pcap_close(handle)
            throw error
        }
    }

    private static func configure(_ handle: OpaquePointer, device: String, filter: String, snaplen: Int32, bufferBytes: Int32)
        throws -> String
    {
        func fail(_ what: String) -> PcapError {
            PcapError(path: device, reason: "\(what): \(String(cString: pcap_geterr(handle)))")
        }
        // Settings before activation can only fail on an already active handle: their results say nothing new.
        _ = pcap_set_snaplen(handle, snaplen)
        _ = pcap_set_promisc(handle, 0)  // the groups joined arrive without it
        _ = pcap_set_immediate_mode(handle, 1)
        _ = pcap_set_buffer_size(handle, bufferBytes)
        // The NIC's own stamps when it gives them: they are when the packet arrived, not when a CPU saw it.
        let types = timestampTypes(handle)
        let source: String
        if types.contains(PCAP_TSTAMP_ADAPTER) {
            _ = pcap_set_tstamp_type(handle, PCAP_TSTAMP_ADAPTER)
            source = "the NIC (adapter, synchronised to the system clock)"
        } else if types.contains(PCAP_TSTAMP_ADAPTER_UNSYNCED) {
            _ = pcap_set_tstamp_type(handle, PCAP_TSTAMP_ADAPTER_UNSYNCED)
            source = "the NIC (adapter, its own clock)"
        } else {
            source = "the kernel (host)"
        }
        guard pcap_set_tstamp_precision(handle, PCAP_TSTAMP_PRECISION_NANO) == 0 else {
            throw PcapError(path: device, reason: "libpcap cannot give nanosecond timestamps on this device")
        }
        let status = pcap_activate(handle)
        if status < 0 {
            let reason =
                status == PCAP_ERROR_PERM_DENIED
                ? "permission denied (capturing needs root or CAP_NET_RAW)"
                : "\(String(cString: pcap_statustostr(status))): \(String(cString: pcap_geterr(handle)))"
            throw PcapError(path: device, reason: "cannot capture: \(reason)")
        }
        var program = bpf_program()
        guard pcap_compile(handle, &program, filter, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
            throw fail("the filter '\(filter)' does not compile")
        }
        defer { pcap_freecode(&program) }
        guard pcap_setfilter(handle, &program) == 0 else { throw fail("setting the filter") }
        // Non-blocking, with our own poll: in immediate mode libpcap's read timeout does not apply, and a capture
        // with no traffic must still notice its duration and stop requests.
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard pcap_setnonblock(handle, 1, &errbuf) == 0 else { throw PcapError(path: device, errbuf: errbuf) }
        guard pcap_get_selectable_fd(handle) >= 0 else {
            throw PcapError(path: device, reason: "this device cannot be polled for packets")
        }
        return source
    }

    deinit {
        if let dumper { pcap_dump_close(dumper) }
        pcap_close(handle)
    }

    private static func timestampTypes(_ handle: OpaquePointer) -> [Int32] {
        var list: UnsafeMutablePointer<Int32>? = nil
        let n = pcap_list_tstamp_types(handle, &list)
        defer { if let list { pcap_free_tstamp_types(list) } }
        guard n > 0, let list else { return [] }
        return Array(UnsafeBufferPointer(start: list, count: Int(n)))
    }

    /// Writes the packets that arrive within `waitMillis` (at most `limit`) to the file; returns how many.
    public func capture(limit: Int32, waitMillis: Int32 = 100) throws -> Int {
        guard dumper != nil else { return 0 }
        var ready = pollfd(fd: selectable, events: Int16(POLLIN), revents: 0)
        guard poll(&ready, 1, waitMillis) > 0 else { return 0 }  // nothing yet (or EINTR: the caller checks its stop)
        let context = Unmanaged.passUnretained(self).toOpaque()
        let n = withExtendedLifetime(self) {
            pcap_dispatch(
                handle, max(1, limit),
                { user, header, bytes in
                    guard let user, let header, let bytes else { return }
                    let capture = Unmanaged<PcapCapture>.fromOpaque(user).takeUnretainedValue()
                    capture.write(header, bytes)
                }, context.assumingMemoryBound(to: UInt8.self))
        }
        if n < 0 {
            throw PcapError(path: device, reason: "capture failed: \(String(cString: pcap_geterr(handle)))")
        }
        return Int(n)
    }

    private func write(_ header: UnsafePointer<pcap_pkthdr>, _ bytes: UnsafePointer<UInt8>) {
        guard let dumper else { return }
        // pcap_dump's first argument is the dumper passed as libpcap's opaque "user" pointer.
        pcap_dump(UnsafeMutableRawPointer(dumper).assumingMemoryBound(to: UInt8.self), header, bytes)
        counts.packets += 1
        counts.bytes += UInt64(header.pointee.caplen)
        if header.pointee.len > header.pointee.caplen { counts.truncated += 1 }
    }

    /// What was written, and libpcap's counts so far.
    public var statistics: Statistics {
        var s = counts
        var stats = pcap_stat()
        if pcap_stats(handle, &stats) == 0 {
            s.received = UInt64(stats.ps_recv)
            s.dropped = UInt64(stats.ps_drop)
            s.interfaceDropped = UInt64(stats.ps_ifdrop)
        }
        return s
    }

    /// Flushes and closes the file; throws when the data did not reach it. The capture stays open for `statistics`.
    public func finish() throws {
        guard let dumper else { return }
        let flushed = pcap_dump_flush(dumper)
        pcap_dump_close(dumper)
        self.dumper = nil
        if flushed != 0 { throw PcapError(path: path, reason: "write failed: \(String(cString: strerror(errno)))") }
    }

    /// The device that holds `address` ("lo" for 127.0.0.1), as libpcap lists devices.
    public static func device(holding address: IPv4Address) throws -> String {
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        var devices: UnsafeMutablePointer<pcap_if_t>? = nil
        guard pcap_findalldevs(&devices, &errbuf) == 0 else { throw PcapError(path: "\(address)", errbuf: errbuf) }
        defer { pcap_freealldevs(devices) }
        var device = devices
        while let d = device {
            var entry = d.pointee.addresses
            while let a = entry {
                if let sa = a.pointee.addr, sa.pointee.sa_family == sa_family_t(AF_INET) {
                    let value = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                        UInt32(bigEndian: $0.pointee.sin_addr.s_addr)
                    }
                    if value == address.value { return String(cString: d.pointee.name) }
                }
                entry = a.pointee.next
            }
            device = d.pointee.next
        }
        throw PcapError(path: "\(address)", reason: "no capture device has this address (see `ip -4 addr`)")
    }
}
