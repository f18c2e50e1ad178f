import CDSIShims
import DSICore
import Glibc

/// Sends datagrams to a multicast group (or any IPv4 destination) from a chosen interface.
///
/// Safe defaults for a shared machine: the loopback interface and TTL 0, so nothing leaves the host unless the caller
/// names another interface and a TTL.
public final class MulticastSender {
    public let fd: Int32
    public let interface: IPv4Address
    public let ttl: UInt8

    public init(interface: IPv4Address = IPv4Address(0x7F00_0001), ttl: UInt8 = 0) throws {
        self.interface = interface
        self.ttl = ttl
        fd = try Socket.open(SOCK_DGRAM)
        do {
            try Socket.setOption(
                fd, Int32(IPPROTO_IP), IP_MULTICAST_IF, in_addr(s_addr: interface.value.bigEndian),
                "IP_MULTICAST_IF \(interface)")
            try Socket.setOption(fd, Int32(IPPROTO_IP), IP_MULTICAST_TTL, ttl, "IP_MULTICAST_TTL")
            try Socket.setOption(fd, Int32(IPPROTO_IP), IP_MULTICAST_LOOP, UInt8(1), "IP_MULTICAST_LOOP")
            try Socket.setOption(fd, SOL_SOCKET, SO_SNDBUF, Int32(4 << 20), "SO_SNDBUF")
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    /// Sends one datagram; a full socket buffer (`ENOBUFS`, `EAGAIN`) is retried after a short pause, so nothing is
    /// dropped on the sending side.
    public func send(_ payload: UnsafeRawBufferPointer, to destination: IPv4Endpoint) throws {
        while true {
            do {
                if try Socket.send(fd, payload, to: destination) != nil { return }
            } catch let error as SystemError where error.errno == ENOBUFS {
                // The device queue is full: as with a full socket buffer, wait for it.
            }
            Clock.sleep(nanos: 20_000)
        }
    }

    public func send(_ payload: [UInt8], to destination: IPv4Endpoint) throws {
        try payload.withUnsafeBytes { try send($0, to: destination) }
    }
}

extension MulticastSender {
    /// The most datagrams one `send(batch:)` takes.
    public static let maxBatch = Int(CDSIShims_MAX_BATCH)

    /// Sends `count` datagrams (`buffers[i]`, `lengths[i]`) to one destination with `sendmmsg`: one system call for
    /// the batch instead of one per datagram. A full device queue is waited out, as `send` does; a partial send
    /// continues with the rest.
    public func send(
        batch buffers: UnsafePointer<UnsafeRawPointer?>, lengths: UnsafePointer<Int>, count: Int, to destination: IPv4Endpoint
    ) throws {
        var sent = 0
        while sent < count {
            let n = CDSIShims_send_batch(
                fd, buffers + sent, lengths + sent, UInt32(min(count - sent, Self.maxBatch)),
                destination.address.value.bigEndian, destination.port.bigEndian)
            if n > 0 {
                sent += Int(n)
            } else if n == -ENOBUFS || n == -EAGAIN || n == 0 {
                Clock.sleep(nanos: 20_000)
            } else {
                throw SystemError("sendmmsg(\(destination))", errno: -n)
            }
        }
    }
}

extension MulticastSender {
    /// Kernel-paced sending from now on (`SO_TXTIME`, CLOCK_TAI): `send(_:to:at:)` hands each datagram to the qdisc
    /// with the time it should leave at. Only an `etf` or `fq` qdisc on the device honours it; other qdiscs send at
    /// once, which is why `dsi replay --txtime` checks the device first.
    public func enableTxTime() throws {
        let result = CDSIShims_enable_txtime(fd)
        if result < 0 { throw SystemError("setsockopt(SO_TXTIME)", errno: -result) }
    }

    /// Sends one datagram to leave at `tai` (ns, CLOCK_TAI); a full device queue is waited out as `send` does.
    public func send(_ payload: UnsafeRawBufferPointer, to destination: IPv4Endpoint, at tai: UInt64) throws {
        while true {
            let n = CDSIShims_send_at(
                fd, payload.baseAddress, payload.count, destination.address.value.bigEndian, destination.port.bigEndian, tai)
            if n >= 0 { return }
            guard n == -ENOBUFS || n == -EAGAIN else { throw SystemError("sendmsg(SCM_TXTIME, \(destination))", errno: -n) }
            Clock.sleep(nanos: 20_000)
        }
    }

    /// Datagrams the qdisc dropped since the last call because their time had passed (read from the error queue).
    public func txTimeMisses() throws -> Int {
        let n = CDSIShims_txtime_misses(fd)
        if n < 0 { throw SystemError("recvmsg(MSG_ERRQUEUE)", errno: -n) }
        return Int(n)
    }

    /// CLOCK_TAI now (ns): the clock `SO_TXTIME` times are in.
    public static func taiNanos() -> UInt64 { CDSIShims_tai_nanos() }
}
