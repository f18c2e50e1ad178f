import DSICore

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
    @inlinable public var sessionKey: SessionKey {
        SessionKey(high: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self),
                   low: bytes.loadUnaligned(fromByteOffset: 8, as: UInt16.self))
    }

    /// The session as text (trailing spaces removed).
    public var session: String { ITCHJSON.asciiText(bytes, Self.sessionSize) }

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

/// A MoldUDP64 session identifier in raw form.
public struct SessionKey: Hashable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt16
    @inlinable public init(high: UInt64, low: UInt16) { self.high = high; self.low = low }

    /// The session named `text` (up to 10 ASCII characters, space padded, as on the wire); nil when it does not fit.
    public init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count <= MoldUDP64Packet.sessionSize, bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return nil }
        let padded = bytes + Array(repeating: 0x20, count: MoldUDP64Packet.sessionSize - bytes.count)
        self = padded.withUnsafeBytes {
            SessionKey(high: $0.loadUnaligned(fromByteOffset: 0, as: UInt64.self), low: $0.loadUnaligned(fromByteOffset: 8, as: UInt16.self))
        }
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
        return bytes.map { $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\\") ? String(UnicodeScalar($0)) : "\\x" + String($0, radix: 16) }
            .joined()
    }
}

/// Builds MoldUDP64 packets (generator, replay's recovery server, tests).
public struct MoldUDP64Builder: Sendable {
    public let session: [UInt8]
    /// Keeps a packet's UDP payload under a 1500-byte Ethernet MTU (1472 B is what NASDAQ sends).
    public var maxPayload: Int

    /// - Parameter session: up to 10 ASCII characters, space padded.
    public init(session: String, maxPayload: Int = 1400) {
        var bytes = Array(session.utf8.prefix(MoldUDP64Packet.sessionSize))
        while bytes.count < MoldUDP64Packet.sessionSize { bytes.append(0x20) }
        self.session = bytes
        self.maxPayload = maxPayload
    }

    /// A packet carrying `messages` from sequence `first`.
    public func packet(first: UInt64, messages: some Collection<[UInt8]>) -> [UInt8] {
        var out = header(sequence: first, count: UInt16(messages.count))
        for m in messages {
            out.append(UInt8(m.count >> 8)); out.append(UInt8(m.count & 0xFF))
            out.append(contentsOf: m)
        }
        return out
    }

    /// A heartbeat: no messages, `next` is the next expected sequence.
    public func heartbeat(next: UInt64) -> [UInt8] { header(sequence: next, count: MoldUDP64Packet.heartbeatCount) }

    /// End of session: no messages, `next` is the next expected sequence.
    public func endOfSession(next: UInt64) -> [UInt8] { header(sequence: next, count: MoldUDP64Packet.endOfSessionCount) }

    /// A 20-byte re-request for `count` messages from `first`.
    public func request(first: UInt64, count: UInt16) -> [UInt8] { header(sequence: first, count: count) }

    func header(sequence: UInt64, count: UInt16) -> [UInt8] {
        var out = session
        out.reserveCapacity(maxPayload)
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: sequence >> UInt64(shift))) }
        out.append(UInt8(count >> 8)); out.append(UInt8(count & 0xFF))
        return out
    }
}
