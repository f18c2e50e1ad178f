import DSICore
import DSIFeeds
import Testing

/// Feeds hand-made messages through the feed processor and checks the ticks and counters.
@Suite struct NormalizerTests {
    struct Feed {
        var processor = FeedProcessor(expectedOrders: 1024)
        var sink = CollectingSink()
        var seq: UInt64 = 1
        let builder = MoldUDP64Builder(session: "TEST")

        mutating func send(_ messages: [[UInt8]], first: UInt64? = nil) {
            let start = first ?? seq
            let packet = builder.packet(first: start, messages: messages)
            packet.withUnsafeBytes { processor.process(packet: $0.baseAddress!, length: $0.count, receiveTime: 1, sink: &sink) }
            seq = max(seq, start + UInt64(messages.count))
        }
    }

    func m(_ t: Character, _ locate: UInt16 = 1, _ v: [ITCHEncoder.Value]) -> [UInt8] {
        try! ITCHEncoder.message(t, locate: locate, timestamp: 100, v)
    }

    func directory() -> [UInt8] { m("R", 1, ["ZXA", "Q", "N", 100, "N", "C", "Z ", "P", "N", "N", "1", "N", 0, "N"]) }

    @Test func quotesTradesAndStatus() {
        var feed = Feed()
        feed.send([
            m("S", 0, ["Q"]), directory(), m("A", 1, [1, "B", 100, "ZXA", 10_000]), m("A", 1, [2, "S", 200, "ZXA", 10_100]),
        ])
        var kinds = feed.sink.ticks.map(\.kind)
        #expect(kinds == [.status, .quote, .quote])
        let q = feed.sink.ticks[2]
        #expect(
            q.stock.description == "ZXA" && q.bidPrice == 10_000 && q.bidSize == 100 && q.askPrice == 10_100 && q.askSize == 200)
        #expect(q.seq == 4 && q.streamSeq == 3)

        // Partial execution: a trade at the order's price and a smaller bid.
        feed.send([m("E", 1, [1, 40, 555])])
        let trade = feed.sink.ticks[3]
        #expect(trade.kind == .trade && trade.price == 10_000 && trade.shares == 40 && trade.matchNumber == 555 && trade.seq == 5)
        #expect(feed.sink.ticks[4].kind == .quote && feed.sink.ticks[4].bidSize == 60)
        #expect(
            feed.sink.ticks[4].price == 0 && feed.sink.ticks[4].shares == 0 && feed.sink.ticks[4].matchNumber == 0,
            "a quote carries no trade fields")

        // A non-printable execution changes the book but prints no trade.
        feed.send([m("C", 1, [2, 50, 556, "N", 10_100])])
        kinds = feed.sink.ticks.suffix(1).map(\.kind)
        #expect(kinds == [.quote] && feed.sink.ticks.last!.askSize == 150)

        // A cancel that does not touch the top changes nothing: no quote.
        feed.send([m("A", 1, [3, "B", 100, "ZXA", 9_900])])
        let count = feed.sink.ticks.count
        feed.send([m("X", 1, [3, 50])])
        #expect(feed.sink.ticks.count == count)

        // Replace moves the bid; delete empties the ask side.
        feed.send([m("U", 1, [1, 10, 300, 10_050]), m("D", 1, [2])])
        let last = feed.sink.ticks.suffix(2)
        #expect(last.first!.bidPrice == 10_050 && last.first!.bidSize == 300)
        #expect(last.last!.askPrice == 0 && last.last!.askSize == 0)

        feed.send([m("P", 1, [0, "B", 10, "ZXA", 10_000, 557]), m("Q", 1, [5000, "ZXA", 10_000, 558, "O"]), m("B", 1, [557])])
        let tail = feed.sink.ticks.suffix(3)
        #expect(tail.map(\.kind) == [.trade, .trade, .tradeBreak])
        #expect(tail.first!.side == UInt8(ascii: "B") && Array(tail)[1].shares == 5000 && tail.last!.matchNumber == 557)
        #expect(feed.processor.counters.unknownOrders.load == 0)
    }

    @Test func badMessagesAreCountedAndSkipped() {
        var feed = Feed()
        var short = m("A", 1, [1, "B", 100, "ZXA", 10_000])
        short.removeLast(4)
        var unknown = m("D", 1, [1])
        unknown[0] = UInt8(ascii: "z")
        feed.send([short, unknown, m("D", 1, [12345]), m("S", 0, ["O"])])
        let c = feed.processor.counters
        #expect(c.shortMessages.load == 1)
        #expect(c.unknownMessages.load == 1)
        #expect(c.unknownOrders.load == 1)
        #expect(c.messages.load == 4)
        #expect(feed.sink.ticks.map(\.kind) == [.status], "the good message after the bad ones still counts")
    }

    @Test func arbitrationDropsWhatAnotherLineDelivered() {
        var feed = Feed()
        let a = [m("S", 0, ["O"]), m("S", 0, ["S"])]
        feed.send(a, first: 1)
        feed.send(a, first: 1)  // line B, same packet
        feed.send([m("S", 0, ["S"]), m("S", 0, ["Q"])], first: 2)  // overlaps by one
        #expect(feed.processor.counters.messages.load == 3)
        #expect(feed.processor.counters.duplicateMessages.load == 3)
        #expect(feed.sink.ticks.map(\.seq) == [1, 2, 3])
    }

    @Test func gapIsReportedWithItsRange() {
        var feed = Feed()
        feed.send([m("S", 0, ["O"])], first: 1)
        feed.send([m("S", 0, ["Q"])], first: 5)
        let gap = feed.sink.ticks[1]
        #expect(gap.kind == .status && gap.statusType == Tick.gapStatusType && gap.gapFirst == 2 && gap.gapLast == 4)
        #expect(gap.jsonLine.contains(#""status":"gap","from":2,"to":4"#))
        #expect(feed.processor.counters.gaps.load == 1 && feed.processor.counters.lostMessages.load == 3)
        #expect(feed.processor.counters.lostGaps.load == 1)
        #expect(feed.sink.ticks[2].seq == 5)
    }

    @Test func malformedPacketIsCounted() {
        var feed = Feed()
        var bytes = MoldUDP64Builder(session: "X").packet(first: 1, messages: [m("S", 0, ["O"])])
        bytes.removeLast()
        bytes.withUnsafeBytes {
            feed.processor.process(packet: $0.baseAddress!, length: $0.count, receiveTime: 0, sink: &feed.sink)
        }
        [UInt8](repeating: 0, count: 5).withUnsafeBytes {
            feed.processor.process(packet: $0.baseAddress!, length: $0.count, receiveTime: 0, sink: &feed.sink)
        }
        #expect(feed.processor.counters.malformedPackets.load == 2)
        #expect(feed.sink.ticks.isEmpty)
    }
}
