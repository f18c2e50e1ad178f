import DSICore
import DSITestSupport
import Foundation
import Testing

@Suite struct TickTests {
    func sampleTrade() -> Tick {
        var t = Tick(kind: .trade)
        t.seq = 42; t.streamSeq = 7; t.stockLocate = 3; t.stock = Symbol("AAPL"); t.timestamp = 34_200_000_000_001
        t.price = 1_502_500; t.shares = 100; t.matchNumber = 9; t.receiveTime = 1_700_000_000_000_000_000;
        t.side = UInt8(ascii: "B")
        return t
    }

    @Test func wireFormRoundTrips() {
        var bytes = [UInt8](repeating: 0xAA, count: Tick.wireSize)
        let tick = sampleTrade()
        bytes.withUnsafeMutableBytes { tick.write(to: $0.baseAddress!) }
        let back = bytes.withUnsafeBytes { Tick(wire: $0.baseAddress!) }
        #expect(back == tick)
        bytes[0] = 99
        #expect(bytes.withUnsafeBytes { Tick(wire: $0.baseAddress!) } == nil, "an unknown kind is refused")
    }

    @Test func jsonFormHasTheContractKeys() throws {
        let trade = try #require(try jsonLines(sampleTrade().jsonLine).first)
        #expect(trade["kind"] as? String == "trade")
        #expect(trade["seq"] as? Int == 42)
        #expect(trade["streamSeq"] as? Int == 7)
        #expect(trade["stockLocate"] as? Int == 3)
        #expect(trade["stock"] as? String == "AAPL")
        #expect(trade["timestamp"] as? Int == 34_200_000_000_001)
        #expect(trade["price"] as? Int == 1_502_500)
        #expect(trade["shares"] as? Int == 100)
        #expect(trade["matchNumber"] as? Int == 9)

        var quote = Tick(kind: .quote)
        quote.bidPrice = 100; quote.bidSize = 5; quote.stock = Symbol("MSFT")
        let q = try #require(try jsonLines(quote.jsonLine).first)
        #expect(q["bidPrice"] as? Int == 100 && q["bidSize"] as? Int == 5)
        #expect(q["askPrice"] as? Int == 0 && q["askSize"] as? Int == 0, "an empty side is 0")

        var status = Tick(kind: .status)
        status.statusType = UInt8(ascii: "S"); status.statusCode = UInt8(ascii: "Q")
        let s = try #require(try jsonLines(status.jsonLine).first)
        #expect(s["kind"] as? String == "status" && s["status"] as? String == "systemEvent" && s["code"] as? String == "Q")
    }

    @Test func symbolsTrimPadding() {
        #expect(Symbol("AB").description == "AB")
        #expect(Symbol("ABCDEFGHIJ").description == "ABCDEFGH")
        #expect(Symbol().description == "")
    }

    @Test func histogramPercentiles() {
        var h = LatencyHistogram()
        for v in 1...1000 { h.record(UInt64(v) * 1000) }
        let s = h.summary
        #expect(s.count == 1000)
        #expect((495_000...505_000).contains(s.p50))
        #expect((985_000...995_000).contains(s.p99))
        #expect((999_000...1_001_000).contains(s.max))
    }
}
