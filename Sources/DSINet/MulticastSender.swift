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
