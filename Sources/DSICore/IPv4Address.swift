/// An IPv4 address in host byte order, with dotted-quad parsing and printing.
public struct IPv4Address: Hashable, Sendable, CustomStringConvertible {
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }

    /// Parses `a.b.c.d`; nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var v: UInt32 = 0
        for part in parts {
            guard let octet = UInt8(part) else { return nil }
            v = v << 8 | UInt32(octet)
        }
        value = v
    }

    public var description: String {
        "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
    }

    /// 224.0.0.0/4.
    public var isMulticast: Bool { value >> 28 == 0xE }
    /// 127.0.0.0/8.
    public var isLoopback: Bool { value >> 24 == 127 }
}

/// An IPv4 address and UDP/TCP port, written `a.b.c.d:port` in configs and on the command line.
public struct IPv4Endpoint: Hashable, Sendable, CustomStringConvertible {
    public var address: IPv4Address
    public var port: UInt16

    public init(address: IPv4Address, port: UInt16) {
        self.address = address
        self.port = port
    }

    /// Parses `a.b.c.d:port` (port 0 allowed: "any free port" where binding).
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"),
            let address = IPv4Address(String(text[..<colon])),
            let port = UInt16(text[text.index(after: colon)...])
        else { return nil }
        self.init(address: address, port: port)
    }

    public var description: String { "\(address):\(port)" }
}
