/// One normalized market-data event, as the pipeline builds it and the publisher sends it.
///
/// A plain fixed-size value (no references), so it is written once, in place, into a publish ring slot and copied to
/// the wire field by field. Which fields mean something depends on `kind`; the rest are zero.
public struct Tick: Sendable, Equatable {
    public enum Kind: UInt8, Sendable, CaseIterable, Hashable {
        case trade = 1
        case quote = 2
        case status = 3
        case tradeBreak = 4

        public var name: String {
            switch self {
            case .trade: "trade"
            case .quote: "quote"
            case .status: "status"
            case .tradeBreak: "tradeBreak"
            }
        }

        /// The kind named `name` (as in the tick form), or nil.
        public init?(name: String) {
            guard let kind = Self.allCases.first(where: { $0.name == name }) else { return nil }
            self = kind
        }
    }

    public var kind: Kind
    /// For trades: the aggressor-side indicator of the message (`B`/`S`), or 0 when the message has none.
    public var side: UInt8
    /// For status ticks: the ITCH message letter that caused it (`S`, `H`, `Y`, ...), `gapStatusType` or
    /// `joinStatusType`.
    public var statusType: UInt8
    /// For status ticks: the event / state / action code of that message.
    public var statusCode: UInt8
    public var stockLocate: UInt16
    /// For status ticks from `H`: the 4-byte reason code, space padded; zero otherwise.
    public var reason: UInt32
    public var stock: Symbol
    /// MoldUDP64 sequence number of the message that caused the tick.
    public var seq: UInt64
    /// The publisher's own gap-free sequence number, from 1.
    public var streamSeq: UInt64
    /// The tick's place in its topic (its symbol and kind, see `Topic`), from 1, numbered with `streamSeq`: a
    /// subscriber that takes only some symbols or kinds sees a gap in its stream as a jump here.
    public var topicSeq: UInt64
    /// `Flags`: what the tick is besides an update (an image entry, a conflated quote).
    public var flags: UInt8
    /// Exchange time, nanoseconds since midnight.
    public var timestamp: UInt64
    /// When the packet carrying the message reached this host: kernel receive time, ns since the Unix epoch.
    public var receiveTime: UInt64
    public var price: UInt32
    public var bidPrice: UInt32
    public var askPrice: UInt32
    public var shares: UInt64
    public var matchNumber: UInt64
    public var bidSize: UInt64
    public var askSize: UInt64
    /// For gap status ticks: messages `gapFirst...gapLast` were lost for good (no line and no re-request had them).
    public var gapFirst: UInt64
    public var gapLast: UInt64
    /// The name of the feed the tick came from (`feeds[].name`, up to 8 ASCII characters); all zero when unnamed
    /// (a tick of a journal written before feeds were named, or of `dsi ticks` without `--feed`).
    public var feed: Symbol

    /// Bits of `flags`.
    public enum Flags {
        /// Part of an initial image: the latest tick of its topic when the subscription began, sent before updates.
        public static let image: UInt8 = 1
        /// A quote sent in place of others a slow subscriber was too far behind to receive (the quotes between it and
        /// the last one sent were dropped on purpose): its topic sequence may jump.
        public static let conflated: UInt8 = 2
    }

    /// Whether the tick reports on the stream itself (a loss or a late join) rather than the market: every
    /// subscription receives these.
    @inlinable public var isIntegrityReport: Bool {
        kind == .status && (statusType == Self.gapStatusType || statusType == Self.joinStatusType)
    }

    /// The status type of a gap tick: `G` is not an ITCH 5.0 message letter.
    public static let gapStatusType = UInt8(ascii: "G")
    /// The status type of a join tick (the stream starts in the middle of a session, at `gapFirst`): `j` is not an
    /// ITCH 5.0 message letter either.
    public static let joinStatusType = UInt8(ascii: "j")

    /// A tick of `kind` with every field zero.
    @inlinable
    public init(kind: Kind) {
        self.kind = kind
        side = 0; statusType = 0; statusCode = 0; stockLocate = 0; reason = 0
        stock = Symbol(); seq = 0; streamSeq = 0; topicSeq = 0; flags = 0; timestamp = 0; receiveTime = 0
        price = 0; bidPrice = 0; askPrice = 0
        shares = 0; matchNumber = 0; bidSize = 0; askSize = 0; gapFirst = 0; gapLast = 0
        feed = Symbol(raw: 0)
    }
}

/// An 8-byte exchange symbol (`alpha8`, space padded), kept as the raw bytes in wire order.
public struct Symbol: Sendable, Hashable, CustomStringConvertible {
    /// The 8 bytes, first character in the lowest byte.
    public var raw: UInt64

    @inlinable public init() { raw = 0x2020_2020_2020_2020 }
    @inlinable public init(raw: UInt64) { self.raw = raw }

    /// Space-pads or truncates `text` to 8 ASCII bytes.
    public init(_ text: String) {
        var value: UInt64 = 0
        var bytes = Array(text.utf8.prefix(8))
        while bytes.count < 8 { bytes.append(0x20) }
        for (i, b) in bytes.enumerated() { value |= UInt64(b) << (8 * UInt64(i)) }
        raw = value
    }

    /// The symbol without its trailing spaces (and without NULs, which a zeroed field holds).
    public var description: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8)
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: raw >> (8 * UInt64(i)))) }
        while let last = bytes.last, last == 0x20 || last == 0 { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }
}
