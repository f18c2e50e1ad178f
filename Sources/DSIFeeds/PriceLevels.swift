/// One side of one stock's book: aggregate shares per price, best price last so that the busiest end is the cheapest
/// to change. Bids are kept ascending, asks descending.
public struct PriceLevels {
    public struct Level: Equatable {
        public var price: UInt32
        public var shares: UInt64
        public var orders: UInt32

        @inlinable
        public init(price: UInt32, shares: UInt64, orders: UInt32) {
            self.price = price; self.shares = shares; self.orders = orders
        }
    }

    @usableFromInline var levels: ContiguousArray<Level>
    @usableFromInline let isBid: Bool

    /// - Parameter reserve: levels to make room for up front, so that a normal day never reallocates.
    public init(isBid: Bool, reserve: Int) {
        self.isBid = isBid
        levels = []
        levels.reserveCapacity(reserve)
    }

    /// The best level, or nil when the side is empty.
    @inlinable public var best: Level? { levels.last }
    @inlinable public var depth: Int { levels.count }
    /// Levels from best to worst.
    public var bestFirst: [Level] { levels.reversed() }

    /// Whether `a` is strictly worse than `b` on this side (farther from the top of the book).
    @inlinable @inline(__always)
    func worse(_ a: UInt32, _ b: UInt32) -> Bool { isBid ? a < b : a > b }

    /// Index of `price`, or where it would go, searching from the best end (where most activity is).
    @inlinable
    func position(of price: UInt32) -> (index: Int, found: Bool) {
        var i = levels.count
        while i > 0 {
            let p = levels[i - 1].price
            if p == price { return (i - 1, true) }
            if worse(p, price) { return (i, false) }
            i -= 1
        }
        return (0, false)
    }

    /// Adds `shares` at `price` (a new order).
    @inlinable
    public mutating func add(price: UInt32, shares: UInt64) {
        let (i, found) = position(of: price)
        if found {
            levels[i].shares &+= shares
            levels[i].orders &+= 1
        } else {
            levels.insert(Level(price: price, shares: shares, orders: 1), at: i)
        }
    }

    /// Takes `shares` off `price`; `orderGone` when the order left the book. Removes the level when it empties.
    @inlinable
    public mutating func remove(price: UInt32, shares: UInt64, orderGone: Bool) {
        let (i, found) = position(of: price)
        guard found else { return }
        levels[i].shares = levels[i].shares >= shares ? levels[i].shares - shares : 0
        if orderGone { levels[i].orders -= Swift.min(levels[i].orders, 1) }
        if levels[i].orders == 0 || levels[i].shares == 0 { levels.remove(at: i) }
    }
}
