import DSICore

/// The publish wire protocol inside TLS, version 2 (docs/publish-protocol.md): frames of a big-endian u16 length (of
/// type and payload), a type byte, then the payload, in both directions.
public enum PublishProtocol {
    public static let version: UInt16 = 2
    public static let headerSize = 3
    /// The largest frame a client may send (length field included): a subscription of 500 symbols fits.
    public static let maxClientFrame = 4_096
    /// The longest client name a login may carry, and the longest reason an error or goodbye carries (bytes).
    public static let maxNameBytes = 64
    public static let maxReasonBytes = 1_000

    /// What the publisher sends.
    public enum ServerFrameType: UInt8, Sendable {
        case hello = 0x48  // "H"
        case subscribed = 0x41  // "A"
        case tick = 0x54  // "T"
        case heartbeat = 0x42  // "B"
        case error = 0x58  // "X"
        case goodbye = 0x47  // "G"
        case end = 0x45  // "E"
    }

    /// What a subscriber sends.
    public enum ClientFrameType: UInt8, Sendable {
        case login = 0x4C  // "L"
        case subscribe = 0x53  // "S"
        case unsubscribe = 0x55  // "U"
        case resume = 0x52  // "R"
        case heartbeat = 0x50  // "P"
    }

    /// How a subscriber wants its ticks, chosen at login.
    public enum Encoding: UInt8, Sendable, CaseIterable {
        /// The fixed 112-byte form (`Tick.write(to:)`).
        case binary = 1
        /// The tick's JSON object, as `dsi ticks --format jsonl` prints it, without the newline.
        case json = 2
        /// A `dsi.Tick` Protocol Buffers message (docs/dsi.proto).
        case protobuf = 3

        public var name: String {
            switch self {
            case .binary: "binary"
            case .json: "json"
            case .protobuf: "protobuf"
            }
        }

        public init?(name: String) {
            guard let e = Self.allCases.first(where: { $0.name == name }) else { return nil }
            self = e
        }
    }

    /// Why the publisher refuses a request or drops a subscriber: the code of an error or goodbye frame.
    public enum Code: UInt16, Sendable, CaseIterable {
        case malformedFrame = 1
        case unsupportedVersion = 2
        case unknownEncoding = 3
        case notLoggedIn = 4
        case alreadyLoggedIn = 5
        case tooManySymbols = 6
        case rateLimited = 7
        case frameTooLarge = 8
        case resumeUnavailable = 9
        case resumeNotFirst = 10
        case notEntitled = 11
        case unknownFrameType = 12
        case loginTimeout = 13
        case slowConsumer = 14
        case shuttingDown = 15
        case heartbeatTimeout = 16
        case emptySubscription = 17
        case certificateRevoked = 18

        public var name: String { "\(self)" }
    }

    /// Bits of a subscribe, unsubscribe or resume frame's flags byte.
    public enum SubscriptionFlags {
        /// The kinds apply to every symbol (the symbol list is then empty).
        public static let everySymbol: UInt8 = 1
    }

    /// Bits of a subscribed frame's flags byte.
    public enum SubscribedFlags {
        /// The stream that follows replays the journal from the asked-for sequence.
        public static let resumed: UInt8 = 1
        /// The asked-for sequence is no longer retained (or of another day): images were sent instead.
        public static let imagesInsteadOfResume: UInt8 = 2
    }

    /// A binary tick frame's size, header included.
    public static let tickFrameSize = headerSize + Tick.wireSize

    /// Writes a binary tick frame at `p`; returns its size.
    @inlinable
    public static func writeTickFrame(_ tick: Tick, to p: UnsafeMutableRawPointer) -> Int {
        p.storeBigEndian(UInt16(1 + Tick.wireSize), at: 0)
        p.storeByte(ServerFrameType.tick.rawValue, at: 2)
        tick.write(to: p + headerSize)
        return tickFrameSize
    }
}
