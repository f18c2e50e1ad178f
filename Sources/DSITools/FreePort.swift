import DSICore
import DSINet
import Glibc

/// Ports for one-off loopback runs (the demo, tests), so that two runs on one machine do not meet.
public enum FreePort {
    /// A UDP port the kernel reports free now (bound to 0, read back, released).
    public static func udp() throws -> UInt16 { try free(SOCK_DGRAM) }

    /// A TCP port the kernel reports free now.
    public static func tcp() throws -> UInt16 { try free(SOCK_STREAM) }

    static func free(_ type: __socket_type) throws -> UInt16 {
        let fd = try Socket.open(type)
        defer { close(fd) }
        try Socket.bind(fd, IPv4Endpoint(address: IPv4Address(0x7F00_0001), port: 0))
        return try Socket.localEndpoint(fd).port
    }
}
