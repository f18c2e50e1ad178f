/// A copy of one side of one stock's book, best level first (tests, snapshots; the live levels are `BookLevels`).
public struct PriceLevels: Equatable {
    public struct Level: Equatable {
        public var price: UInt32
        public var shares: UInt64
        public var orders: UInt32

        @inlinable
        public init(price: UInt32, shares: UInt64, orders: UInt32) {
            self.price = price; self.shares = shares; self.orders = orders
        }
    }

    /// Levels from best to worst.
    public let bestFirst: [Level]

    public init(bestFirst: [Level]) { self.bestFirst = bestFirst }

    /// The best level, or nil when the side is empty.
    public var best: Level? { bestFirst.first }
    public var depth: Int { bestFirst.count }
}
