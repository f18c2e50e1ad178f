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
        fd = try syscall("socket") { socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0) }
        do {
            var iface = in_addr(s_addr: interface.value.bigEndian)
            try syscall("setsockopt(IP_MULTICAST_IF \(interface))") {
                setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_IF, &iface, socklen_t(MemoryLayout<in_addr>.size))
            }
            try setOption(fd, Int32(IPPROTO_IP), IP_MULTICAST_TTL, ttl, "IP_MULTICAST_TTL")
            try setOption(fd, Int32(IPPROTO_IP), IP_MULTICAST_LOOP, UInt8(1), "IP_MULTICAST_LOOP")
            try setOption(fd, SOL_SOCKET, SO_SNDBUF, Int32(4 << 20), "SO_SNDBUF")
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    /// Sends one datagram; a full socket buffer (`ENOBUFS`, `EAGAIN`) is retried after a short pause, so nothing is
    /// dropped on the sending side.
    public func send(_ payload: UnsafeRawBufferPointer, to destination: IPv4Endpoint) throws {
        var address = sockaddr_in(destination)
        while true {
            let sent = withUnsafePointer(to: &address) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                    sendto(fd, payload.baseAddress, payload.count, 0, sa, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            if sent >= 0 { return }
            let code = errno
            if code == EINTR { continue }
            if code == ENOBUFS || code == EAGAIN {
                Clock.sleep(nanos: 20_000)
                continue
            }
            throw SystemError("sendto(\(destination))", errno: code)
        }
    }

    public func send(_ payload: [UInt8], to destination: IPv4Endpoint) throws {
        try payload.withUnsafeBytes { try send($0, to: destination) }
    }
}
