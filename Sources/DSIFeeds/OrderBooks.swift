import DSICore

/// Every stock's book (indexed by stock locate), the live orders behind them, and the symbols from the directory.
///
/// Copies share the orders and levels (both live in memory allocated once): a copy may be read, but change books
/// through one value only.
public struct OrderBooks {
    public static let locates = 65536

    /// The live orders behind the books (read-only outside: changed only through the book operations).
    public var orders: OrderTable { _orders }
    @usableFromInline var _orders: OrderTable
    @usableFromInline var levels: BookLevels
    @usableFromInline var symbols: ContiguousArray<Symbol>
    @usableFromInline let levelReserve: Int

    /// - Parameters:
    ///   - expectedOrders: the most orders live at once over the day.
    ///   - levelReserve: price levels per side made room for when a stock is first seen.
    public init(expectedOrders: Int, levelReserve: Int = 64) {
        _orders = OrderTable(expectedOrders: expectedOrders)
        levels = BookLevels(locates: Self.locates, levels: expectedOrders)
        symbols = ContiguousArray(repeating: Symbol(), count: Self.locates)
        self.levelReserve = levelReserve
    }

    /// Records a stock directory entry and makes room for its book.
    public mutating func addStock(locate: UInt16, symbol: Symbol) {
        symbols[Int(locate)] = symbol
        levels.reserve(side: BookLevels.side(locate, isBid: true), levels: levelReserve)
        levels.reserve(side: BookLevels.side(locate, isBid: false), levels: levelReserve)
    }

    @inlinable public func symbol(_ locate: UInt16) -> Symbol { symbols[Int(locate)] }
    public func bidLevels(_ locate: UInt16) -> PriceLevels {
        PriceLevels(bestFirst: levels.levels(side: BookLevels.side(locate, isBid: true), isBid: true))
    }
    public func askLevels(_ locate: UInt16) -> PriceLevels {
        PriceLevels(bestFirst: levels.levels(side: BookLevels.side(locate, isBid: false), isBid: false))
    }
    /// How many times a book side outgrew `levelReserve`, or the level pool its size (each an allocation on the
    /// message path).
    public var levelGrowths: Int { levels.growths }

    /// Best bid and ask (price, aggregate shares); zeros for an empty side.
    @inlinable
    public func bbo(_ locate: UInt16) -> (bidPrice: UInt32, bidSize: UInt64, askPrice: UInt32, askSize: UInt64) {
        let b = levels.best(side: BookLevels.side(locate, isBid: true))
        let a = levels.best(side: BookLevels.side(locate, isBid: false))
        return (
            b.map { BookLevels.price($0.key, isBid: true) } ?? 0, b?.shares ?? 0,
            a.map { BookLevels.price($0.key, isBid: false) } ?? 0, a?.shares ?? 0
        )
    }

    /// Adds a new order.
    /// - Returns: `added` false (and nothing changed) when its reference is already live or it has no shares (an
    ///   order of nothing rests nowhere); `touchedTop` when the side's best level changed.
    @inlinable
    public mutating func add(
        ref: UInt64, locate: UInt16, side: UInt8, price: UInt32, shares: UInt32
    ) -> (added: Bool, touchedTop: Bool) {
        guard shares > 0, let slot = _orders.place(.init(ref: ref, price: price, shares: shares, locate: locate, side: side))
        else {
            return (false, false)
        }
        let isBid = side == UInt8(ascii: "B")
        let (level, top) = levels.add(
            side: BookLevels.side(locate, isBid: isBid), key: BookLevels.key(price, isBid: isBid),
            shares: UInt64(shares))
        slot.pointee.level = level
        return (true, top)
    }

    /// Takes up to `shares` off a live order (execution or cancel); removes it when none remain.
    /// - Returns: the order as it was before and whether its side's best level changed; nil when the reference is
    ///   unknown.
    @inlinable @inline(__always)
    public mutating func reduce(ref: UInt64, shares: UInt32) -> (order: OrderTable.Entry, touchedTop: Bool)? {
        guard let slot = _orders.find(ref) else { return nil }
        let before = slot.pointee
        let taken = Swift.min(shares, before.shares)
        let gone = taken == before.shares
        let top = removeFromLevels(before, shares: taken, orderGone: gone)
        if gone { _orders.remove(slot) } else { slot.pointee.shares = before.shares - taken }
        return (before, top)
    }

    /// Removes a live order whole.
    /// - Returns: the order and whether its side's best level changed; nil when the reference is unknown.
    @inlinable @inline(__always)
    public mutating func delete(ref: UInt64) -> (order: OrderTable.Entry, touchedTop: Bool)? {
        guard let slot = _orders.find(ref) else { return nil }
        let before = slot.pointee
        let top = removeFromLevels(before, shares: before.shares, orderGone: true)
        _orders.remove(slot)
        return (before, top)
    }

    @inlinable @inline(__always)
    mutating func removeFromLevels(_ order: OrderTable.Entry, shares: UInt32, orderGone: Bool) -> Bool {
        levels.remove(
            side: BookLevels.side(order.locate, isBid: order.side == UInt8(ascii: "B")), level: order.level,
            shares: UInt64(shares), orderGone: orderGone)
    }
}
