/// A MoldUDP64 session identifier in raw form.
public struct SessionKey: Hashable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt16
    @inlinable public init(high: UInt64, low: UInt16) { self.high = high; self.low = low }

    /// The 10 bytes at `p`, as on the wire.
    @inlinable public init(at p: UnsafeRawPointer) {
        self.init(
            high: p.loadUnaligned(fromByteOffset: 0, as: UInt64.self), low: p.loadUnaligned(fromByteOffset: 8, as: UInt16.self))
    }

    /// The session named `text` (up to 10 ASCII characters, space padded, as on the wire); nil when it does not fit.
    public init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count <= MoldUDP64Packet.sessionSize, bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return nil }
        let padded = bytes + Array(repeating: 0x20, count: MoldUDP64Packet.sessionSize - bytes.count)
        self = padded.withUnsafeBytes { SessionKey(at: $0.baseAddress!) }
    }

    /// The 10 bytes as on the wire.
    public var bytes: [UInt8] {
        withUnsafeBytes(of: (high, low)) { raw in
            (0..<8).map { raw[$0] } + (0..<2).map { raw[MemoryLayout<UInt64>.stride + $0] }
        }
    }

    /// The session as text: trailing spaces removed, bytes outside printable ASCII escaped (a stray packet's session
    /// may hold anything, and it goes into log lines).
    public var description: String {
        var bytes = self.bytes
        while let last = bytes.last, last == 0x20 { bytes.removeLast() }
        return bytes.map {
            $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\\") ? String(UnicodeScalar($0)) : "\\x" + String($0, radix: 16)
        }
        .joined()
    }
}
