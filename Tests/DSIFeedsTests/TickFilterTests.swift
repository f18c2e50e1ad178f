import DSICore
import DSIFeeds
import Testing

@Suite struct TickFilterTests {
    func tick(_ kind: Tick.Kind, _ stock: String, locate: UInt16 = 1, price: UInt32 = 0, bid: UInt32 = 0, ask: UInt32 = 0) -> Tick
    {
        var t = Tick(kind: kind)
        t.stock = Symbol(stock); t.stockLocate = locate; t.price = price; t.bidPrice = bid; t.askPrice = ask
        return t
    }

    @Test func conditionsCompose() {
        let filter = TickFilter([TickFilter.symbols(["ZXA", "ZXB"]), .kinds([.trade, .quote]), .priceBand(min: 100, max: 200)])
        #expect(filter.passes(tick(.trade, "ZXA", price: 150)))
        #expect(!filter.passes(tick(.trade, "ZXC", price: 150)), "symbol")
        #expect(!filter.passes(tick(.trade, "ZXA", price: 250)), "price band")
        #expect(!filter.passes(tick(.tradeBreak, "ZXB")), "kind")
        #expect(filter.passes(tick(.quote, "ZXB", bid: 120, ask: 0)), "an empty side is not out of band")
        #expect(!filter.passes(tick(.quote, "ZXB", bid: 120, ask: 201)))
    }

    @Test func lossReportsAndMarketWideStatusPass() {
        let filter = TickFilter([TickFilter.symbols(["ZXA"]), .kinds([.trade])])
        var gap = tick(.status, "", locate: 0)
        gap.statusType = Tick.gapStatusType
        #expect(filter.passes(gap), "a filter never hides a loss")
        var status = tick(.status, "", locate: 0)
        status.statusType = UInt8(ascii: "S")
        #expect(TickFilter([TickFilter.symbols(["ZXA"])]).passes(status), "market-wide status concerns every symbol")
        #expect(!filter.passes(status), "but a kinds condition still applies to it")
    }

    @Test func sinkCountsWhatItHolds() {
        var sink = FilteringSink(inner: CollectingSink(), filter: TickFilter([.kinds([.trade])]))
        sink.publish(tick(.trade, "A", price: 1))
        sink.publish(tick(.quote, "A"))
        sink.publish(tick(.trade, "B", price: 2))
        #expect(sink.inner.ticks.map(\.streamSeq) == [1, 2], "the stream stays gap-free after filtering")
        #expect(sink.filtered.load == 1)
    }
}
