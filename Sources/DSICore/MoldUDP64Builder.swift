/// Builds MoldUDP64 packets and re-requests: the one encoder of the format, for the generator, the recovery client and
/// server, and tests.
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

    /// For `session` as its 10 raw bytes (a re-request server answers in the session it was asked about).
    public init(session: SessionKey, maxPayload: Int = 1400) {
        self.session = session.bytes
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

    /// Writes a 20-byte re-request for `count` messages from `first` of `session` at `p` (the recovery client's path:
    /// no allocation).
    @inlinable
    public static func writeRequest(session: SessionKey, first: UInt64, count: UInt16, to p: UnsafeMutableRawPointer) {
        p.storeBytes(of: session.high, toByteOffset: 0, as: UInt64.self)
        p.storeBytes(of: session.low, toByteOffset: 8, as: UInt16.self)
        p.storeBigEndian(first, at: 10)
        p.storeBigEndian(count, at: 18)
    }

    func header(sequence: UInt64, count: UInt16) -> [UInt8] {
        var out = session
        out.reserveCapacity(maxPayload)
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: sequence >> UInt64(shift))) }
        out.append(UInt8(count >> 8)); out.append(UInt8(count & 0xFF))
        return out
    }
}
