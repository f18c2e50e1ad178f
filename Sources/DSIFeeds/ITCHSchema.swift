/// The layouts of all 23 NASDAQ TotalView-ITCH 5.0 messages (see `docs/feeds.md` and the spec's field tables).
///
/// This table drives everything that is not the hot path: `dsi decode`, the encoder the generator uses, and tests.
/// The hot path reads fields at constant offsets (`ITCHOffsets`), which a test checks against this table.
public enum ITCHSchema {
    /// How a field's bytes are read.
    public enum FieldKind: Sendable, Equatable {
        case uint(Int)  // big-endian unsigned integer of that many bytes
        case alpha(Int)  // ASCII, left-justified, space padded
        case price4  // u32, 4 implied decimals
        case price8  // u64, 8 implied decimals

        public var size: Int {
            switch self {
            case .uint(let n), .alpha(let n): n
            case .price4: 4
            case .price8: 8
            }
        }
    }

    public struct Field: Sendable {
        /// lowerCamelCase of the spec's field name ("Canceled Shares" → `canceledShares`).
        public let name: String
        public let offset: Int
        public let kind: FieldKind
    }

    public struct Layout: Sendable {
        public let type: UInt8
        public let name: String
        public let length: Int
        /// Fields after the common header (stock locate @1, tracking number @3, timestamp @5).
        public let fields: [Field]
    }

    static let char = FieldKind.alpha(1)
    static let u16 = FieldKind.uint(2)
    static let u32 = FieldKind.uint(4)
    static let u64 = FieldKind.uint(8)
    static let alpha4 = FieldKind.alpha(4)
    static let alpha8 = FieldKind.alpha(8)

    /// Offsets of the body fields follow from their sizes: ITCH has no padding, and the body starts at 11.
    static func layout(_ type: Character, _ name: String, _ length: Int, _ fields: [(String, FieldKind)]) -> Layout {
        var offset = 11
        var laid: [Field] = []
        for (fieldName, kind) in fields {
            laid.append(Field(name: fieldName, offset: offset, kind: kind))
            offset += kind.size
        }
        precondition(offset == length, "ITCH layout \(type) adds up to \(offset), not \(length)")
        return Layout(type: type.asciiValue!, name: name, length: length, fields: laid)
    }

    public static let layouts: [Layout] = [
        layout("S", "System Event", 12, [("eventCode", char)]),
        layout(
            "R", "Stock Directory", 39,
            [
                ("stock", alpha8), ("marketCategory", char), ("financialStatusIndicator", char), ("roundLotSize", u32),
                ("roundLotsOnly", char), ("issueClassification", char), ("issueSubType", .alpha(2)), ("authenticity", char),
                ("shortSaleThresholdIndicator", char), ("ipoFlag", char), ("luldReferencePriceTier", char), ("etpFlag", char),
                ("etpLeverageFactor", u32), ("inverseIndicator", char),
            ]),
        layout(
            "H", "Stock Trading Action", 25,
            [("stock", alpha8), ("tradingState", char), ("reserved", char), ("reasonCode", alpha4)]),
        layout("Y", "Reg SHO Short Sale Price Test Restricted Indicator", 20, [("stock", alpha8), ("regShoAction", char)]),
        layout(
            "L", "Market Participant Position", 26,
            [
                ("mpid", alpha4), ("stock", alpha8), ("primaryMarketMaker", char), ("marketMakerMode", char),
                ("marketParticipantState", char),
            ]),
        layout("V", "MWCB Decline Level", 35, [("level1", .price8), ("level2", .price8), ("level3", .price8)]),
        layout("W", "MWCB Status", 12, [("breachedLevel", char)]),
        layout(
            "K", "IPO Quoting Period Update", 28,
            [
                ("stock", alpha8), ("ipoQuotationReleaseTime", u32), ("ipoQuotationReleaseQualifier", char),
                ("ipoPrice", .price4),
            ]),
        layout(
            "J", "LULD Auction Collar", 35,
            [
                ("stock", alpha8), ("auctionCollarReferencePrice", .price4), ("upperAuctionCollarPrice", .price4),
                ("lowerAuctionCollarPrice", .price4), ("auctionCollarExtension", u32),
            ]),
        layout("h", "Operational Halt", 21, [("stock", alpha8), ("marketCode", char), ("operationalHaltAction", char)]),
        layout(
            "A", "Add Order", 36,
            [
                ("orderReferenceNumber", u64), ("buySellIndicator", char), ("shares", u32), ("stock", alpha8), ("price", .price4),
            ]),
        layout(
            "F", "Add Order with MPID Attribution", 40,
            [
                ("orderReferenceNumber", u64), ("buySellIndicator", char), ("shares", u32), ("stock", alpha8), ("price", .price4),
                ("attribution", alpha4),
            ]),
        layout("E", "Order Executed", 31, [("orderReferenceNumber", u64), ("executedShares", u32), ("matchNumber", u64)]),
        layout(
            "C", "Order Executed With Price", 36,
            [
                ("orderReferenceNumber", u64), ("executedShares", u32), ("matchNumber", u64), ("printable", char),
                ("executionPrice", .price4),
            ]),
        layout("X", "Order Cancel", 23, [("orderReferenceNumber", u64), ("canceledShares", u32)]),
        layout("D", "Order Delete", 19, [("orderReferenceNumber", u64)]),
        layout(
            "U", "Order Replace", 35,
            [
                ("originalOrderReferenceNumber", u64), ("newOrderReferenceNumber", u64), ("shares", u32), ("price", .price4),
            ]),
        layout(
            "P", "Trade (Non-Cross)", 44,
            [
                ("orderReferenceNumber", u64), ("buySellIndicator", char), ("shares", u32), ("stock", alpha8), ("price", .price4),
                ("matchNumber", u64),
            ]),
        layout(
            "Q", "Cross Trade", 40,
            [
                ("crossShares", u64), ("stock", alpha8), ("crossPrice", .price4), ("matchNumber", u64), ("crossType", char),
            ]),
        layout("B", "Broken Trade", 19, [("matchNumber", u64)]),
        layout(
            "I", "Net Order Imbalance Indicator", 50,
            [
                ("pairedShares", u64), ("imbalanceShares", u64), ("imbalanceDirection", char), ("stock", alpha8),
                ("farPrice", .price4), ("nearPrice", .price4), ("currentReferencePrice", .price4), ("crossType", char),
                ("priceVariationIndicator", char),
            ]),
        layout("N", "Retail Price Improvement Indicator", 20, [("stock", alpha8), ("interestFlag", char)]),
        layout(
            "O", "Direct Listing with Capital Raise Price Discovery", 48,
            [
                ("stock", alpha8), ("openEligibilityStatus", char), ("minimumAllowablePrice", .price4),
                ("maximumAllowablePrice", .price4), ("nearExecutionPrice", .price4), ("nearExecutionTime", u64),
                ("lowerPriceRangeCollar", .price4), ("upperPriceRangeCollar", .price4),
            ]),
    ]

    /// Layout by message letter, indexed by the type byte.
    public static let byType: [Layout?] = {
        var table = [Layout?](repeating: nil, count: 256)
        for layout in layouts { table[Int(layout.type)] = layout }
        return table
    }()

    public static func layout(for type: UInt8) -> Layout? { byType[Int(type)] }
}
