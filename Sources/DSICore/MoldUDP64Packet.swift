/// A MoldUDP64 downstream packet read in place (see `moldudp64.md`): 10-byte session, u64 sequence of the first
/// message, u16 count, then `count` blocks of u16 length + message.
public struct MoldUDP64Packet {
    public static let headerSize = 20
    public static let sessionSize = 10
    public static let heartbeatCount: UInt16 = 0
    public static let endOfSessionCount: UInt16 = 0xFFFF

    public let bytes: UnsafeRawPointer
    public let length: Int

    /// Views `length` bytes at `bytes` as a packet; nil when shorter than the header.
    @inlinable
    public init?(_ bytes: UnsafeRawPointer, length: Int) {
        guard length >= Self.headerSize else { return nil }
        self.bytes = bytes
        self.length = length
    }

    @inlinable public var sequence: UInt64 { bytes.bigEndianU64(at: 10) }
    @inlinable public var rawCount: UInt16 { bytes.bigEndianU16(at: 18) }
    @inlinable public var isEndOfSession: Bool { rawCount == Self.endOfSessionCount }
    @inlinable public var isHeartbeat: Bool { rawCount == Self.heartbeatCount }
    /// Messages carried (0 for heartbeats and end of session).
    @inlinable public var messageCount: Int { isEndOfSession ? 0 : Int(rawCount) }

    /// The session as its 10 raw bytes packed into two integers, cheap to compare per packet.
    @inlinable public var sessionKey: SessionKey { SessionKey(at: bytes) }

    /// The session as text (trailing spaces removed, anything unprintable escaped).
    public var session: String { sessionKey.description }

    /// Whether every message block lies inside the packet (a packet that fails this is malformed as a whole).
    @inlinable
    public var blocksAreWellFormed: Bool { checkBlocks { _, _ in } }

    /// Walks the message blocks, calling `body(message, length)` for each one that lies inside the packet, in order.
    /// - Returns: whether every block does (when one does not, the walk stops there: the packet is malformed).
    @inlinable @inline(__always)
    public func checkBlocks(_ body: (UnsafeRawPointer, Int) -> Void) -> Bool {
        var offset = Self.headerSize
        for _ in 0..<messageCount {
            guard offset &+ 2 <= length else { return false }
            let messageLength = Int(bytes.bigEndianU16(at: offset))
            let next = offset &+ 2 &+ messageLength  // offset <= length, a packet's size: no overflow
            guard next <= length else { return false }
            body(bytes + offset + 2, messageLength)
            offset = next
        }
        return true
    }

    /// Calls `body(index, message, length)` for each message block in order. Check `blocksAreWellFormed` first.
    @inlinable
    public func forEachMessage(_ body: (Int, UnsafeRawPointer, Int) -> Void) {
        var offset = Self.headerSize
        for i in 0..<messageCount {
            let len = Int(bytes.bigEndianU16(at: offset))
            body(i, bytes + offset + 2, len)
            offset += 2 + len
        }
    }
}
