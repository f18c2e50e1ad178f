import DSICore

/// Every stock's book (indexed by stock locate), the live orders behind them, and the symbols from the directory.
public struct OrderBooks {
    public static let locates = 65536

    /// The live orders behind the books (read-only outside: changed only through the book operations).
    public var orders: OrderTable { _orders }
    @usableFromInline var _orders: OrderTable
    @usableFromInline var bids: ContiguousArray<PriceLevels>
    @usableFromInline var asks: ContiguousArray<PriceLevels>
    @usableFromInline var symbols: ContiguousArray<Symbol>
    @usableFromInline let levelReserve: Int

    /// - Parameters:
    ///   - expectedOrders: the most orders live at once over the day.
    ///   - levelReserve: price levels per side made room for when a stock is first seen.
    public init(expectedOrders: Int, levelReserve: Int = 64) {
        _orders = OrderTable(expectedOrders: expectedOrders)
        bids = ContiguousArray(repeating: PriceLevels(isBid: true, reserve: 0), count: Self.locates)
        asks = ContiguousArray(repeating: PriceLevels(isBid: false, reserve: 0), count: Self.locates)
        symbols = ContiguousArray(repeating: Symbol(), count: Self.locates)
        self.levelReserve = levelReserve
    }

    /// Records a stock directory entry and makes room for its book.
    public mutating func addStock(locate: UInt16, symbol: Symbol) {
        symbols[Int(locate)] = symbol
        bids[Int(locate)].levels.reserveCapacity(levelReserve)
        asks[Int(locate)].levels.reserveCapacity(levelReserve)
    }

    @inlinable public func symbol(_ locate: UInt16) -> Symbol { symbols[Int(locate)] }
    public func bidLevels(_ locate: UInt16) -> PriceLevels { bids[Int(locate)] }
    public func askLevels(_ locate: UInt16) -> PriceLevels { asks[Int(locate)] }

    /// Best bid and ask (price, aggregate shares); zeros for an empty side.
    @inlinable
    public func bbo(_ locate: UInt16) -> (bidPrice: UInt32, bidSize: UInt64, askPrice: UInt32, askSize: UInt64) {
        let b = bids[Int(locate)].best, a = asks[Int(locate)].best
        return (b?.price ?? 0, b?.shares ?? 0, a?.price ?? 0, a?.shares ?? 0)
    }

    /// Adds a new order; false when its reference is already live.
    @inlinable
    public mutating func add(ref: UInt64, locate: UInt16, side: UInt8, price: UInt32, shares: UInt32) -> Bool {
        guard _orders.insert(.init(ref: ref, price: price, shares: shares, locate: locate, side: side)) else { return false }
        if side == UInt8(ascii: "B") {
            bids[Int(locate)].add(price: price, shares: UInt64(shares))
        } else {
            asks[Int(locate)].add(price: price, shares: UInt64(shares))
        }
        return true
    }

    /// Takes up to `shares` off a live order (execution or cancel); removes it when none remain.
    /// - Returns: the order as it was before, or nil when the reference is unknown.
    @inlinable
    public mutating func reduce(ref: UInt64, shares: UInt32) -> OrderTable.Entry? {
        guard let slot = _orders.find(ref) else { return nil }
        let before = slot.pointee
        let taken = Swift.min(shares, before.shares)
        let gone = taken == before.shares
        removeFromLevels(before, shares: taken, orderGone: gone)
        if gone { _orders.remove(slot) } else { slot.pointee.shares = before.shares - taken }
        return before
    }

    /// Removes a live order whole. - Returns: the order, or nil when the reference is unknown.
    @inlinable
    public mutating func delete(ref: UInt64) -> OrderTable.Entry? {
        guard let slot = _orders.find(ref) else { return nil }
        let before = slot.pointee
        removeFromLevels(before, shares: before.shares, orderGone: true)
        _orders.remove(slot)
        return before
    }

    @inlinable
    mutating func removeFromLevels(_ order: OrderTable.Entry, shares: UInt32, orderGone: Bool) {
        if order.side == UInt8(ascii: "B") {
            bids[Int(order.locate)].remove(price: order.price, shares: UInt64(shares), orderGone: orderGone)
        } else {
            asks[Int(order.locate)].remove(price: order.price, shares: UInt64(shares), orderGone: orderGone)
        }
    }
}
