import CDSIShims
import DSICore
import Glibc

/// One multicast line: a UDP socket joined to a group on an interface, read with `recvmmsg` straight into ring slots.
///
/// Receive timestamps are taken per datagram: the kernel's (`SO_TIMESTAMPNS`), or with `timestamps = .hardware` the
/// NIC's (`SO_TIMESTAMPING`, raw hardware stamps, the kernel's where the NIC gives none). The kernel's own drop counter
/// (`SO_RXQ_OVFL`) is read back with every batch, so a datagram the kernel dropped is reported, not missed.
public final class MulticastReceiver {
    public struct Options: Sendable {
        public var group: IPv4Endpoint
        public var interface: IPv4Address
        /// Requested kernel receive buffer, bytes (forced past `rmem_max` where the process may).
        public var receiveBuffer: Int = 16 << 20
        /// `SO_BUSY_POLL` microseconds; 0 leaves it off.
        public var busyPollMicros: Int32 = 0
        /// Where receive timestamps come from.
        public var timestamps: Timestamps = .software

        public init(group: IPv4Endpoint, interface: IPv4Address) {
            self.group = group
            self.interface = interface
        }
    }

    public let fd: Int32
    public let options: Options
    /// The line's index, stamped into every slot it fills.
    public let line: Int
    /// Datagrams the kernel dropped on this socket (its receive queue overflowed), as it last reported.
    public let kernelDrops = Counter()
    /// Datagrams larger than a ring slot (counted and dropped; the MTU makes this a misconfiguration).
    public let oversized = Counter()
    public let datagrams = Counter()
    /// Datagrams stamped by the NIC (`timestamps = .hardware` on a NIC that stamps; 0 otherwise).
    public let hardwareStamped = Counter()
    /// With `timestamps = .hardware`: why the NIC could not be asked for stamps (its datagrams then carry the
    /// kernel's), or nil.
    public private(set) var hardwareUnavailable: String?

    private let batch = ReceiveBatch()

    public init(_ options: Options, line: Int) throws {
        self.options = options
        self.line = line
        fd = try Socket.open(SOCK_DGRAM, nonBlocking: true)
        do {
            try Socket.setOption(fd, SOL_SOCKET, SO_REUSEADDR, Int32(1), "SO_REUSEADDR")
            try Self.requireReceiveBuffer(fd, options.receiveBuffer)
            switch options.timestamps {
            case .software:
                try Socket.setOption(fd, SOL_SOCKET, CDSIShims_SO_TIMESTAMPNS(), Int32(1), "SO_TIMESTAMPNS")
            case .hardware:
                hardwareUnavailable = Self.enableHardwareTimestamps(fd: fd, interface: options.interface)
                try shimCall("setsockopt(SO_TIMESTAMPING)", CDSIShims_request_timestamping(fd))
            }
            try Socket.setOption(fd, SOL_SOCKET, CDSIShims_SO_RXQ_OVFL(), Int32(1), "SO_RXQ_OVFL")
            if options.busyPollMicros > 0 {
                try Socket.setOption(fd, SOL_SOCKET, CDSIShims_SO_BUSY_POLL(), options.busyPollMicros, "SO_BUSY_POLL")
            }
            // Bind to the group address itself so that only this group's datagrams arrive on this port.
            try Socket.bind(fd, options.group)
            let membership = ip_mreq(
                imr_multiaddr: in_addr(s_addr: options.group.address.value.bigEndian),
                imr_interface: in_addr(s_addr: options.interface.value.bigEndian))
            try Socket.setOption(
                fd, Int32(IPPROTO_IP), IP_ADD_MEMBERSHIP, membership,
                "IP_ADD_MEMBERSHIP \(options.group.address) on \(options.interface)")
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    /// Asks the NIC behind `interface` to stamp every received packet. Returns why it could not, or nil.
    static func enableHardwareTimestamps(fd: Int32, interface: IPv4Address) -> String? {
        var name = [CChar](repeating: 0, count: Int(IFNAMSIZ))
        let found = CDSIShims_interface_name(interface.value.bigEndian, &name, name.count)
        if found != 0 { return "no interface has \(interface) (\(SystemError("getifaddrs", errno: -found)))" }
        let device = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let result = CDSIShims_enable_hardware_timestamps(fd, name)
        if result != 0 {
            return "\(device) gives no hardware timestamps (\(SystemError("SIOCSHWTSTAMP on \(device)", errno: -result)))"
        }
        return nil
    }

    /// Receives what is waiting (up to one batch) into free slots of `ring`, without blocking.
    /// - Returns: datagrams committed to the ring.
    @discardableResult
    public func receive(into ring: SPSCRing) throws -> Int {
        let n = try batch.receive(
            fd: fd, into: ring, line: line, what: "recvmmsg(\(options.group))",
            kernelDrops: kernelDrops, oversized: oversized, hardwareStamped: hardwareStamped)
        datagrams.add(UInt64(n))
        return n
    }
}

extension MulticastReceiver {
    /// Whether a line socket can have a receive buffer of `bytes`: asked for, exactly as a line asks, on a socket of
    /// its own (a configuration's machine check, before anything starts).
    public static func checkReceiveBuffer(_ bytes: Int) throws {
        let fd = try Socket.open(SOCK_DGRAM)
        defer { close(fd) }
        try requireReceiveBuffer(fd, bytes)
    }

    /// Gives `fd` a receive buffer of `bytes`, or refuses: one smaller than asked loses datagrams at speed, so it is
    /// refused at start rather than found out then.
    static func requireReceiveBuffer(_ fd: Int32, _ bytes: Int) throws {
        let granted = try Socket.setReceiveBuffer(fd, bytes)
        if granted < bytes { throw ReceiveBufferTooSmall(asked: bytes, granted: granted) }
    }
}

/// The kernel granted a smaller receive buffer than the configuration asks for.
public struct ReceiveBufferTooSmall: Error, CustomStringConvertible {
    public let asked: Int
    public let granted: Int
    public var description: String {
        """
        asked for a \(asked)-byte receive buffer, the kernel granted \(granted): raise net.core.rmem_max (sysctl -w \
        net.core.rmem_max=\(asked)), run with CAP_NET_ADMIN, or ask for less
        """
    }
}

/// Where a line's receive timestamps come from.
public enum Timestamps: String, Codable, Sendable, CaseIterable {
    /// The kernel's, when the datagram reached the socket layer (`SO_TIMESTAMPNS`).
    case software
    /// The NIC's, when the packet arrived on the wire (`SO_TIMESTAMPING`), on the NIC's clock (keep it synchronised
    /// with the system clock, e.g. phc2sys, for latencies to mean anything); the kernel's where the NIC gives none.
    case hardware
}
