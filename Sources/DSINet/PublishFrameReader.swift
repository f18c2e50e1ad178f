import DSICore

/// Reads the publish protocol's frames (docs/publish-protocol.md) out of bytes as a subscriber receives them. Every
/// length and field is checked before it is used: a publisher that sends garbage gets a clear error, never a crash or
/// a read past the bytes received.
public enum PublishFrameReader {
    /// One frame, decoded.
    public enum Frame: Equatable, Sendable {
        case hello(version: UInt16, tickSize: UInt16, nextStreamSeq: UInt64)
        case tick(Tick)
        case end(lastStreamSeq: UInt64)
        case goodbye(String)
        /// A frame type this subscriber does not know (from a newer publisher): skipped by its length.
        case unknown(type: UInt8)
    }

    /// Why a stream cannot be read further.
    public struct Malformed: Error, CustomStringConvertible, Equatable {
        public let reason: String
        public var description: String { "malformed frame from the publisher: \(reason)" }
    }

    /// The first complete frame in `bytes`, and how many bytes it took; nil when `bytes` holds only part of one.
    public static func next(in bytes: UnsafeRawBufferPointer) throws -> (frame: Frame, consumed: Int)? {
        guard bytes.count >= PublishProtocol.headerSize, let base = bytes.baseAddress else { return nil }
        let length = Int(base.bigEndianU16(at: 0))
        guard length >= 1 else { throw Malformed(reason: "a frame of length 0 (it must hold at least its type)") }
        guard bytes.count >= 2 + length else { return nil }
        let payload = UnsafeRawBufferPointer(start: base + PublishProtocol.headerSize, count: length - 1)
        return (try frame(type: base.byte(at: 2), payload: payload), 2 + length)
    }

    static func frame(type: UInt8, payload: UnsafeRawBufferPointer) throws -> Frame {
        switch PublishProtocol.FrameType(rawValue: type) {
        case .tick:
            guard payload.count == Tick.wireSize else {
                throw Malformed(reason: "a tick frame of \(payload.count) bytes (a tick is \(Tick.wireSize))")
            }
            guard let tick = Tick(wire: payload.baseAddress!) else {
                throw Malformed(reason: "a tick of unknown kind \(payload[0])")
            }
            return .tick(tick)
        case .hello:
            guard payload.count >= 12 else { throw Malformed(reason: "a hello of \(payload.count) bytes (12 expected)") }
            let p = payload.baseAddress!
            return .hello(version: p.bigEndianU16(at: 0), tickSize: p.bigEndianU16(at: 2), nextStreamSeq: p.bigEndianU64(at: 4))
        case .end:
            guard payload.count >= 8 else { throw Malformed(reason: "an end frame of \(payload.count) bytes (8 expected)") }
            return .end(lastStreamSeq: payload.baseAddress!.bigEndianU64(at: 0))
        case .goodbye:
            return .goodbye(String(decoding: payload, as: UTF8.self))
        case nil:
            return .unknown(type: type)
        }
    }
}
