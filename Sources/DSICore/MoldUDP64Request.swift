/// A MoldUDP64 re-request as a server reads it: 10-byte session, u64 first sequence, u16 count, exactly 20 bytes
/// (`moldudp64.md`). Checked in full: anything else is not a request.
public struct MoldUDP64Request: Sendable, Equatable {
    public static let size = 20

    public var session: SessionKey
    public var first: UInt64
    public var count: UInt16

    public init(session: SessionKey, first: UInt64, count: UInt16) {
        self.session = session
        self.first = first
        self.count = count
    }

    /// Reads a request from `bytes`; nil unless it is exactly 20 bytes asking for at least one message from 1 on.
    /// A request is laid out as a downstream packet's header, and read as one.
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count == Self.size, let p = bytes.baseAddress, let header = MoldUDP64Packet(p, length: Self.size)
        else { return nil }
        session = header.sessionKey
        first = header.sequence
        count = header.rawCount
        guard first >= 1, count >= 1 else { return nil }
    }
}
