import DSICore

/// A frame the publisher sends (docs/publish-protocol.md, "Server frames"): built by the publisher, parsed by clients.
public enum ServerFrame: Equatable, Sendable {
    public struct Hello: Equatable, Sendable {
        public var version: UInt16
        public var encoding: UInt8
        public var tickSize: UInt16
        /// How often the publisher sends a heartbeat when it has nothing else to send (ms).
        public var heartbeatMillis: UInt16
        /// The stream sequence the next tick will carry.
        public var nextStreamSeq: UInt64
        /// The first stream sequence a resume can start at (the oldest the journal retains).
        public var firstRetained: UInt64
        /// The stream's day (YYYYMMDD): stream sequences count within a day.
        public var day: UInt32
        /// The most symbols one subscriber may hold.
        public var maxSymbols: UInt32

        public init(
            version: UInt16, encoding: UInt8, tickSize: UInt16, heartbeatMillis: UInt16, nextStreamSeq: UInt64,
            firstRetained: UInt64, day: UInt32, maxSymbols: UInt32
        ) {
            self.version = version
            self.encoding = encoding
            self.tickSize = tickSize
            self.heartbeatMillis = heartbeatMillis
            self.nextStreamSeq = nextStreamSeq
            self.firstRetained = firstRetained
            self.day = day
            self.maxSymbols = maxSymbols
        }
    }

    public struct Subscribed: Equatable, Sendable {
        public var request: UInt32
        /// The stream sequence the first update after the images will carry at the earliest.
        public var firstStreamSeq: UInt64
        /// How many image ticks follow this frame, before any update.
        public var images: UInt32
        public var flags: UInt8

        public init(request: UInt32, firstStreamSeq: UInt64, images: UInt32, flags: UInt8) {
            self.request = request
            self.firstStreamSeq = firstStreamSeq
            self.images = images
            self.flags = flags
        }
    }

    case hello(Hello)
    case subscribed(Subscribed)
    case tick(Tick)
    /// Sent when nothing else was for a while: the last stream sequence published and the publisher's clock (ns since
    /// the epoch).
    case heartbeat(lastStreamSeq: UInt64, time: UInt64)
    case error(code: UInt16, request: UInt32, reason: String)
    case goodbye(code: UInt16, reason: String)
    case end(lastStreamSeq: UInt64)
    /// A frame type this client does not know (from a newer publisher): skipped by its length.
    case unknown(type: UInt8)

    public var bytes: [UInt8] {
        typealias T = PublishProtocol.ServerFrameType
        switch self {
        case .hello(let h):
            var b = FrameBuilder(type: T.hello.rawValue)
            b.u16(h.version)
            b.u8(h.encoding)
            b.u8(0)
            b.u16(h.tickSize)
            b.u16(h.heartbeatMillis)
            b.u64(h.nextStreamSeq)
            b.u64(h.firstRetained)
            b.u32(h.day)
            b.u32(h.maxSymbols)
            return b.bytes
        case .subscribed(let s):
            var b = FrameBuilder(type: T.subscribed.rawValue)
            b.u32(s.request)
            b.u64(s.firstStreamSeq)
            b.u32(s.images)
            b.u8(s.flags)
            return b.bytes
        case .tick(let tick):
            var out = [UInt8](repeating: 0, count: PublishProtocol.tickFrameSize)
            out.withUnsafeMutableBytes { _ = PublishProtocol.writeTickFrame(tick, to: $0.baseAddress!) }
            return out
        case .heartbeat(let last, let time):
            var b = FrameBuilder(type: T.heartbeat.rawValue)
            b.u64(last)
            b.u64(time)
            return b.bytes
        case .error(let code, let request, let reason):
            var b = FrameBuilder(type: T.error.rawValue)
            b.u16(code)
            b.u32(request)
            b.raw(reason.utf8.prefix(PublishProtocol.maxReasonBytes))
            return b.bytes
        case .goodbye(let code, let reason):
            var b = FrameBuilder(type: T.goodbye.rawValue)
            b.u16(code)
            b.raw(reason.utf8.prefix(PublishProtocol.maxReasonBytes))
            return b.bytes
        case .end(let last):
            var b = FrameBuilder(type: T.end.rawValue)
            b.u64(last)
            return b.bytes
        case .unknown(let type):
            return FrameBuilder(type: type).bytes
        }
    }

    public static func error(_ code: PublishProtocol.Code, request: UInt32 = 0, _ reason: String) -> ServerFrame {
        .error(code: code.rawValue, request: request, reason: reason)
    }

    public static func goodbye(_ code: PublishProtocol.Code, _ reason: String) -> ServerFrame {
        .goodbye(code: code.rawValue, reason: reason)
    }
}
