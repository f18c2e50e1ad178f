import DSICore
import DSIFeeds
import Testing

@Suite struct OrderBookTests {
    /// Random adds, executions, cancels and deletes against a model that recomputes levels from the live orders.
    /// Narrow books (searched level by level) and deep ones (more levels than the linear search covers, binary
    /// searched, outgrowing their reserve); locate 1 has a directory entry, the others are first seen in an add.
    @Test(arguments: [(prices: 20, levelReserve: 64), (prices: 400, levelReserve: 8)])
    func propertyAgainstModel(prices: Int, levelReserve: Int) {
        var random = SplitMix64(seed: 99)
        var books = OrderBooks(expectedOrders: 64, levelReserve: levelReserve)  // small: the table must grow too
        books.addStock(locate: 1, symbol: Symbol("ZXA"))
        var model: [UInt64: (locate: UInt16, side: UInt8, price: UInt32, shares: UInt32)] = [:]
        var nextRef: UInt64 = 1
        for _ in 0..<20_000 {
            let op = random.next() % 10
            if op < 4 || model.isEmpty {
                let locate = UInt16(1 + random.next() % 3)
                let side: UInt8 = random.next() & 1 == 0 ? UInt8(ascii: "B") : UInt8(ascii: "S")
                let price = UInt32(1000 + random.next() % UInt64(prices))
                let shares = UInt32(1 + random.next() % 500)
                let added = books.add(ref: nextRef, locate: locate, side: side, price: price, shares: shares)
                #expect(added.added)
                model[nextRef] = (locate, side, price, shares)
                nextRef += 1
            } else {
                let ref = Array(model.keys)[Int(random.next() % UInt64(model.count))]
                if op < 8 {
                    let take = UInt32(1 + random.next() % 300)
                    let before = books.reduce(ref: ref, shares: take)
                    #expect(before?.order.shares == model[ref]!.shares)
                    if take >= model[ref]!.shares { model[ref] = nil } else { model[ref]!.shares -= take }
                } else {
                    #expect(books.delete(ref: ref) != nil)
                    model[ref] = nil
                }
            }
            #expect(books.orders.count == model.count)
        }
        #expect(books.reduce(ref: 999_999_999, shares: 1) == nil, "an unknown order is reported, not invented")
        var deepest = 0
        for locate in UInt16(1)...3 {
            for side in [UInt8(ascii: "B"), UInt8(ascii: "S")] {
                var levels: [UInt32: (UInt64, UInt32)] = [:]
                for o in model.values where o.locate == locate && o.side == side {
                    levels[o.price, default: (0, 0)].0 += UInt64(o.shares)
                    levels[o.price, default: (0, 0)].1 += 1
                }
                let expected = levels.keys.sorted(by: side == UInt8(ascii: "B") ? (>) : (<)).map {
                    PriceLevels.Level(price: $0, shares: levels[$0]!.0, orders: levels[$0]!.1)
                }
                let actual = side == UInt8(ascii: "B") ? books.bidLevels(locate).bestFirst : books.askLevels(locate).bestFirst
                #expect(actual == expected, "locate \(locate) side \(side)")
                deepest = max(deepest, actual.count)
                let top = books.bbo(locate)
                let best = expected.first.map { ($0.price, $0.shares) } ?? (0, 0)
                #expect(side == UInt8(ascii: "B") ? (top.bidPrice, top.bidSize) == best : (top.askPrice, top.askSize) == best)
            }
        }
        if prices > 64 {
            #expect(deepest > 64, "deep enough for the binary search (past 32 levels)")
            #expect(books.levelGrowths > 0, "deep books outgrew an 8-level reserve")
        }
    }

    /// An order of no shares is refused, and a level lives exactly as long as its last order: the levels' pool
    /// never frees a level an order still rests on, nor frees one twice.
    @Test func levelsLiveAsLongAsTheirOrders() {
        var books = OrderBooks(expectedOrders: 64)
        books.addStock(locate: 1, symbol: Symbol("ZXA"))
        #expect(books.add(ref: 1, locate: 1, side: UInt8(ascii: "B"), price: 100, shares: 0).added == false)
        #expect(books.add(ref: 2, locate: 1, side: UInt8(ascii: "B"), price: 100, shares: 50).added)
        #expect(books.add(ref: 3, locate: 1, side: UInt8(ascii: "B"), price: 100, shares: 70).added)
        #expect(books.reduce(ref: 3, shares: 70)?.order.shares == 70, "an execution of all of order 3")
        #expect(books.bidLevels(1).bestFirst == [PriceLevels.Level(price: 100, shares: 50, orders: 1)])
        #expect(books.delete(ref: 1) == nil, "the refused order never rested")
        // Another stock's level takes whatever slot is free next; order 2's level must still be its own.
        #expect(books.add(ref: 4, locate: 2, side: UInt8(ascii: "S"), price: 200, shares: 10).added)
        #expect(books.delete(ref: 2)?.touchedTop == true)
        #expect(books.bidLevels(1).bestFirst.isEmpty)
        #expect(books.askLevels(2).bestFirst == [PriceLevels.Level(price: 200, shares: 10, orders: 1)])
        #expect(books.add(ref: 5, locate: 1, side: UInt8(ascii: "B"), price: 90, shares: 5).added)
        #expect(books.add(ref: 6, locate: 2, side: UInt8(ascii: "S"), price: 210, shares: 7).added)
        #expect(books.bidLevels(1).bestFirst == [PriceLevels.Level(price: 90, shares: 5, orders: 1)])
        #expect(books.askLevels(2).bestFirst.map(\.price) == [200, 210])
    }

    /// Colliding references (multiples of the capacity, random ones) against a dictionary: displacement, removal's
    /// bounded backward shift and growth keep every live order findable and nothing else.
    @Test func orderTableUnderCollisionsMatchesModel() {
        var table = OrderTable(expectedOrders: 32)
        var model: [UInt64: UInt32] = [:]
        var random = SplitMix64(seed: 5)
        for step in 0..<50_000 {
            let roll = random.next() % 10
            if roll < 5 || model.isEmpty {
                let ref = roll < 2 ? (random.next() % 64) * 64 : random.next() % 5_000  // many share a home slot
                let inserted = table.insert(.init(ref: ref, price: 1, shares: UInt32(step), locate: 1, side: 66))
                #expect(inserted == (model[ref] == nil))
                if inserted { model[ref] = UInt32(step) }
            } else {
                let ref = Array(model.keys)[Int(random.next() % UInt64(model.count))]
                table.remove(table.find(ref)!)
                model[ref] = nil
            }
            if step % 997 == 0 {
                for (ref, shares) in model { #expect(table.find(ref)?.pointee.shares == shares) }
                #expect(table.count == model.count)
            }
        }
        for probe in 0..<2_000 as Range<UInt64> where model[probe] == nil { #expect(table.find(probe) == nil) }
    }

    @Test func orderTableGrowsAndKeepsEverything() {
        var table = OrderTable(expectedOrders: 4)
        let before = table.capacity
        for ref in UInt64(1)...1000 { table.insert(.init(ref: ref * 7919, price: 1, shares: UInt32(ref), locate: 1, side: 66)) }
        #expect(table.growths > 0 && table.capacity > before)
        for ref in UInt64(1)...1000 { #expect(table.find(ref * 7919)?.pointee.shares == UInt32(ref)) }
        for ref in stride(from: UInt64(1), through: 1000, by: 2) { table.remove(table.find(ref * 7919)!) }
        for ref in UInt64(1)...1000 { #expect((table.find(ref * 7919) != nil) == (ref % 2 == 0)) }
        #expect(table.count == 500)
    }
}
