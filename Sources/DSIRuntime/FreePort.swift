import Glibc

/// Ports for one-off loopback runs (the demo, tests), so that two runs on one machine do not meet.
public enum FreePort {
    /// A UDP port the kernel reports free now (bound to 0, read back, released).
    public static func udp() throws -> UInt16 { try free(Int32(SOCK_DGRAM.rawValue)) }

    /// A TCP port the kernel reports free now.
    public static func tcp() throws -> UInt16 { try free(Int32(SOCK_STREAM.rawValue)) }

    static func free(_ type: Int32) throws -> UInt16 {
        let fd = socket(AF_INET, type, 0)
        guard fd >= 0 else { throw PortError(errno: errno) }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard ok else { throw PortError(errno: errno) }
        return UInt16(bigEndian: address.sin_port)
    }

    struct PortError: Error, CustomStringConvertible {
        let errno: Int32
        var description: String { "finding a free port: \(String(cString: strerror(errno)))" }
    }
}
