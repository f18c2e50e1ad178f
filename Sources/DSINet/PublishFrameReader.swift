import DSICore

/// Reads the publisher's frames (docs/publish-protocol.md) out of bytes as a subscriber receives them. Every length
/// and field is checked before it is used: a publisher that sends garbage gets a clear error, never a crash or a read
/// past the bytes received.
public enum PublishFrameReader {
    /// Why a stream cannot be read further.
    public struct Malformed: Error, CustomStringConvertible, Equatable {
        public let reason: String
        public var description: String { "malformed frame from the publisher: \(reason)" }
    }

    /// The first complete frame in `bytes`, and how many bytes it took; nil when `bytes` holds only part of one.
    /// Tick payloads are read in `encoding`, the one the login asked for.
    public static func next(in bytes: UnsafeRawBufferPointer, encoding: PublishProtocol.Encoding = .binary) throws
        -> (frame: ServerFrame, consumed: Int)?
    {
        guard bytes.count >= PublishProtocol.headerSize, let base = bytes.baseAddress else { return nil }
        let length = Int(base.bigEndianU16(at: 0))
        guard length >= 1 else { throw Malformed(reason: "a frame of length 0 (it must hold at least its type)") }
        guard bytes.count >= 2 + length else { return nil }
        let payload = UnsafeRawBufferPointer(start: base + PublishProtocol.headerSize, count: length - 1)
        do {
            return (try frame(type: base.byte(at: 2), payload: payload, encoding: encoding), 2 + length)
        } catch let error as FrameError {
            throw Malformed(reason: error.reason)
        }
    }

    static func frame(type: UInt8, payload: UnsafeRawBufferPointer, encoding: PublishProtocol.Encoding) throws
        -> ServerFrame
    {
        switch PublishProtocol.ServerFrameType(rawValue: type) {
        case .tick:
            return .tick(try TickDecoding.decode(payload, encoding: encoding))
        case .hello:
            var c = FrameCursor(payload, what: "a hello")
            let version = try c.u16("version")
            guard version == PublishProtocol.version else {
                throw FrameError("a hello of protocol version \(version); this client speaks \(PublishProtocol.version)")
            }
            let encoding = try c.u8("encoding")
            _ = try c.u8("reserved")
            let hello = ServerFrame.Hello(
                version: version, encoding: encoding, tickSize: try c.u16("tick size"),
                heartbeatMillis: try c.u16("heartbeat"), nextStreamSeq: try c.u64("next sequence"),
                firstRetained: try c.u64("first retained"), day: try c.u32("day"), maxSymbols: try c.u32("symbol limit"))
            guard Int(hello.tickSize) == Tick.wireSize else {
                throw FrameError("a hello announcing ticks of \(hello.tickSize) bytes (this client reads \(Tick.wireSize))")
            }
            return .hello(hello)  // later fields from a newer minor revision are ignored
        case .subscribed:
            var c = FrameCursor(payload, what: "a subscribed frame")
            return .subscribed(
                .init(
                    request: try c.u32("request id"), firstStreamSeq: try c.u64("first sequence"),
                    images: try c.u32("image count"), flags: try c.u8("flags")))
        case .heartbeat:
            var c = FrameCursor(payload, what: "a heartbeat")
            return .heartbeat(lastStreamSeq: try c.u64("last sequence"), time: try c.u64("time"))
        case .error:
            var c = FrameCursor(payload, what: "an error frame")
            let code = try c.u16("code")
            let request = try c.u32("request id")
            return .error(code: code, request: request, reason: c.text())
        case .goodbye:
            var c = FrameCursor(payload, what: "a goodbye")
            let code = try c.u16("code")
            return .goodbye(code: code, reason: c.text())
        case .end:
            var c = FrameCursor(payload, what: "an end frame")
            return .end(lastStreamSeq: try c.u64("last sequence"))
        case nil:
            return .unknown(type: type)
        }
    }
}

/// A tick frame's payload in each encoding, read back into a `Tick`.
public enum TickDecoding {
    public static func decode(_ payload: UnsafeRawBufferPointer, encoding: PublishProtocol.Encoding) throws -> Tick {
        switch encoding {
        case .binary:
            guard payload.count == Tick.wireSize else {
                throw FrameError("a tick frame of \(payload.count) bytes (a tick is \(Tick.wireSize))")
            }
            guard let tick = Tick(wire: payload.baseAddress!) else {
                throw FrameError("a tick of unknown kind \(payload[0])")
            }
            return tick
        case .json:
            do {
                return try Tick(json: String(decoding: payload, as: UTF8.self))
            } catch let error as Tick.JSONError {
                throw FrameError("a JSON tick that does not read: \(error.reason)")
            }
        case .protobuf:
            return try TickProtobuf.decode(payload)
        }
    }
}
