import DSICore
import Testing

@testable import DSIFeeds

@Suite struct ITCHSchemaTests {
    @Test func allTwentyThreeTypesWithSpecLengths() {
        let lengths: [Character: Int] = [
            "S": 12, "R": 39, "H": 25, "Y": 20, "L": 26, "V": 35, "W": 12, "K": 28, "J": 35, "h": 21, "A": 36, "F": 40,
            "E": 31, "C": 36, "X": 23, "D": 19, "U": 35, "P": 44, "Q": 40, "B": 19, "I": 50, "N": 20, "O": 48,
        ]
        #expect(ITCHSchema.layouts.count == 23)
        for layout in ITCHSchema.layouts {
            #expect(lengths[Character(Unicode.Scalar(layout.type))] == layout.length, "type \(layout.type)")
        }
    }

    /// The hot path's constant offsets agree with the table the decoder and encoder use.
    @Test func hotPathOffsetsMatchSchema() {
        func offset(_ type: Character, _ field: String) -> Int? {
            ITCHSchema.layout(for: type.asciiValue!)?.fields.first { $0.name == field }?.offset
        }
        #expect(offset("A", "orderReferenceNumber") == ITCHOffsets.AddOrder.orderRef)
        #expect(offset("A", "buySellIndicator") == ITCHOffsets.AddOrder.side)
        #expect(offset("A", "shares") == ITCHOffsets.AddOrder.shares)
        #expect(offset("A", "stock") == ITCHOffsets.AddOrder.stock)
        #expect(offset("A", "price") == ITCHOffsets.AddOrder.price)
        #expect(offset("E", "executedShares") == ITCHOffsets.OrderExecuted.shares)
        #expect(offset("E", "matchNumber") == ITCHOffsets.OrderExecuted.matchNumber)
        #expect(offset("C", "printable") == ITCHOffsets.OrderExecutedWithPrice.printable)
        #expect(offset("C", "executionPrice") == ITCHOffsets.OrderExecutedWithPrice.price)
        #expect(offset("X", "canceledShares") == ITCHOffsets.OrderCancel.shares)
        #expect(offset("U", "newOrderReferenceNumber") == ITCHOffsets.OrderReplace.newRef)
        #expect(offset("U", "shares") == ITCHOffsets.OrderReplace.shares)
        #expect(offset("U", "price") == ITCHOffsets.OrderReplace.price)
        #expect(offset("P", "price") == ITCHOffsets.Trade.price)
        #expect(offset("P", "matchNumber") == ITCHOffsets.Trade.matchNumber)
        #expect(offset("Q", "crossShares") == ITCHOffsets.CrossTrade.shares)
        #expect(offset("Q", "crossPrice") == ITCHOffsets.CrossTrade.price)
        #expect(offset("Q", "matchNumber") == ITCHOffsets.CrossTrade.matchNumber)
        #expect(offset("H", "tradingState") == ITCHOffsets.TradingAction.tradingState)
        #expect(offset("H", "reasonCode") == ITCHOffsets.TradingAction.reasonCode)
        #expect(offset("Y", "regShoAction") == ITCHOffsets.RegSHO.action)
        #expect(offset("h", "operationalHaltAction") == ITCHOffsets.OperationalHalt.action)
        #expect(offset("K", "ipoQuotationReleaseQualifier") == ITCHOffsets.IPOQuoting.qualifier)
    }

    /// The worked example in the spec notes (itch50.md), byte for byte: an independent check of the encoder.
    @Test func encoderMatchesSpecWorkedExample() throws {
        let bytes = try ITCHEncoder.message(
            "A", locate: 1, tracking: 0, timestamp: 34_200_000_000_001,
            [123_456_789, "B", 100, "AAPL", 1_502_500])
        let hex = bytes.map { String(format: "%02x", $0) }.joined()
        #expect(
            hex == "41" + "0001" + "0000" + "1f1aced9f001" + "00000000075bcd15" + "42" + "00000064" + "4141504c20202020"
                + "0016ed24")
    }

    @Test func jsonFormNamesFieldsAfterTheSpec() throws {
        let bytes = try ITCHEncoder.message("X", locate: 7, tracking: 2, timestamp: 5, [99, 300])
        let line = bytes.withUnsafeBytes { ITCHJSON.line(session: "S1", seq: 10, message: $0.baseAddress!, length: $0.count) }
        #expect(
            line
                == #"{"session":"S1","seq":10,"type":"X","stockLocate":7,"trackingNumber":2,"timestamp":5,"orderReferenceNumber":99,"canceledShares":300}"#
        )
        let short = bytes.withUnsafeBytes { ITCHJSON.line(session: "S1", seq: 10, message: $0.baseAddress!, length: 20) }
        #expect(short == nil, "a message shorter than its layout is not decoded")
    }

    @Test func encoderRefusesWrongFieldCount() {
        #expect(throws: ITCHEncoder.EncodeError.self) { try ITCHEncoder.message("D", locate: 1, timestamp: 0, [1, 2]) }
    }
}
