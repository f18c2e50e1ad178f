import DSICore

/// Every stock's price levels, both sides, in memory the books own. Changing a level is a plain store: no
/// copy-on-write or uniqueness check, no nested array (measured: those checks were a fifth of the pipeline).
///
/// Levels live in one pool and never move, so an order keeps its level's index: an execution, cancel or delete goes
/// from the order straight to its level, with no search (each step of a search is a load that waits for the one
/// before). Each book side also keeps its levels' keys sorted, with their indices beside them, for adds (the one
/// search) and for the best level. The key grows as the price gets better (the price for bids, its complement for
/// asks), best last: the busiest end is the cheapest to change, and one search serves both sides.
///
/// Copies of a `BookLevels` share its memory: a copy may be read (its reads go through the shared storage) but only
/// the original is changed.
@usableFromInline
struct BookLevels {
    /// What rests at one price.
    @usableFromInline
    struct Level {
        @usableFromInline var shares: UInt64
        @usableFromInline var orders: UInt32
        @usableFromInline var key: Int32
        @inlinable init(shares: UInt64, orders: UInt32, key: Int32) {
            self.shares = shares; self.orders = orders; self.key = key
        }
    }

    /// One book side: its sorted keys and level indices, and its best level.
    @usableFromInline
    struct Side {
        /// `capacity` keys, then `capacity` level indices.
        @usableFromInline var base: UnsafeMutableRawPointer?
        @usableFromInline var count: Int32
        @usableFromInline var capacity: Int32
        /// The best level's index (when `count > 0`): an order can tell whether it rests at the top without a search.
        @usableFromInline var best: UInt32
    }

    /// Owns the side table, the sides' key blocks and the level pool; frees them when the last copy goes.
    @usableFromInline
    final class Storage {
        let sides: UnsafeMutablePointer<Side>
        let sideCount: Int
        @usableFromInline var pool: UnsafeMutablePointer<Level>

        init(sideCount: Int, poolCapacity: Int) {
            sides = .allocate(capacity: sideCount)
            sides.initialize(repeating: Side(base: nil, count: 0, capacity: 0, best: 0), count: sideCount)
            self.sideCount = sideCount
            pool = .allocate(capacity: poolCapacity)
            pool.initialize(repeating: Level(shares: 0, orders: 0, key: 0), count: poolCapacity)
        }

        deinit {
            for i in 0..<sideCount { sides[i].base?.deallocate() }
            sides.deallocate()
            pool.deallocate()
        }
    }

    /// Searches up to this many levels by counting every key below (eight at a time, no branch to mispredict);
    /// deeper sides are binary searched.
    @usableFromInline static let linearSearchLimit = 32
    @usableFromInline static let none = UInt32.max

    @usableFromInline let storage: Storage
    @usableFromInline let sides: UnsafeMutablePointer<Side>
    @usableFromInline var pool: UnsafeMutablePointer<Level>
    @usableFromInline var poolCapacity: Int
    /// Pool slots handed out so far; freed ones are chained from `freeHead` through their `shares` field.
    @usableFromInline var poolUsed = 0
    @usableFromInline var freeHead = BookLevels.none
    /// How many times a side or the pool outgrew its memory (each an allocation and a copy on the message path).
    var growths = 0

    /// - Parameter levels: levels live at once that the pool holds before it grows (at most one per live order).
    init(locates: Int, levels: Int) {
        poolCapacity = max(levels, 64)
        storage = Storage(sideCount: locates * 2, poolCapacity: poolCapacity)
        sides = storage.sides
        pool = storage.pool
    }

    @inlinable @inline(__always)
    static func side(_ locate: UInt16, isBid: Bool) -> Int { Int(locate) &<< 1 | (isBid ? 0 : 1) }

    /// The sort key of `price`: larger is better on both sides (the price for bids, its complement for asks), with
    /// the top bit flipped so that keys compare as signed integers (SSE2 compares only those).
    @inlinable @inline(__always)
    static func key(_ price: UInt32, isBid: Bool) -> Int32 { Int32(bitPattern: (isBid ? price : ~price) ^ 0x8000_0000) }

    @inlinable @inline(__always)
    static func price(_ key: Int32, isBid: Bool) -> UInt32 {
        let raw = UInt32(bitPattern: key) ^ 0x8000_0000
        return isBid ? raw : ~raw
    }

    // Only called on sides with a block (count > 0, or after resize). Keys past `count` are Int32.max (see
    // lowerBound); indices start at 4 * capacity.
    @inlinable @inline(__always)
    static func keys(_ s: Side) -> UnsafeMutablePointer<Int32> { s.base.unsafelyUnwrapped.assumingMemoryBound(to: Int32.self) }
    @inlinable @inline(__always)
    static func ids(_ s: Side) -> UnsafeMutablePointer<UInt32> {
        (s.base.unsafelyUnwrapped + Int(s.capacity) &* 4).assumingMemoryBound(to: UInt32.self)
    }

    /// Makes room for `levels` levels on side `side` (at the stock's directory entry, off the message path).
    mutating func reserve(side: Int, levels: Int) {
        if Int(sides[side].capacity) < levels { resize(side: side, capacity: levels) }
    }

    /// Index of the first level whose key is not below `key` (where `key` is, or would go).
    /// - Complexity: up to `linearSearchLimit` levels, every key is compared, eight at a time with no branch to
    ///   mispredict (keys past `count` are `Int32.max`, which is below nothing); deeper sides are binary searched.
    @inlinable @inline(__always)
    static func lowerBound(_ keys: UnsafeMutablePointer<Int32>, count: Int, key: Int32) -> Int {
        if count <= linearSearchLimit {
            let probe = SIMD8<Int32>(repeating: key)
            var below = SIMD8<Int32>()
            var i = 0
            while i < count {  // reads whole groups of 8: capacities are multiples of 8
                let group = UnsafeRawPointer(keys + i).loadUnaligned(as: SIMD8<Int32>.self)
                below &+= SIMD8<Int32>().replacing(with: 1, where: group .< probe)
                i &+= 8
            }
            return Int(below.wrappedSum())
        }
        var first = 0, n = count
        while n > 1 {
            let half = n &>> 1
            first = keys[first &+ half &- 1] < key ? first &+ half : first
            n &-= half
        }
        return keys[first] < key ? first &+ 1 : first
    }

    /// Adds `shares` (one new order) at `key`.
    /// - Returns: the level's index (for the order to keep) and whether the side's best level changed.
    @inlinable @inline(__always)
    mutating func add(side: Int, key: Int32, shares: UInt64) -> (level: UInt32, touchedTop: Bool) {
        var s = sides[side]
        let count = Int(s.count)
        if count == Int(s.capacity) {
            resize(side: side, capacity: Swift.max(Self.linearSearchLimit, count &* 2))
            s = sides[side]
        }
        let keys = Self.keys(s), ids = Self.ids(s)
        let i = Self.lowerBound(keys, count: count, key: key)
        if i < count && keys[i] == key {
            let id = ids[i]
            pool[Int(id)].shares &+= shares
            pool[Int(id)].orders &+= 1
            return (id, i == count &- 1)
        }
        let id = allocateLevel()
        pool[Int(id)] = Level(shares: shares, orders: 1, key: key)
        let after = count &- i  // levels better than the new one move up by one
        if after > 0 {
            UnsafeMutableRawPointer(keys + i + 1).copyMemory(from: keys + i, byteCount: after &* 4)
            UnsafeMutableRawPointer(ids + i + 1).copyMemory(from: ids + i, byteCount: after &* 4)
        }
        keys[i] = key
        ids[i] = id
        sides[side].count = Int32(truncatingIfNeeded: count &+ 1)
        if after == 0 { sides[side].best = id }
        return (id, after == 0)
    }

    /// Takes `shares` off level `id` of side `side`; `orderGone` when an order left the book. Removes the level when
    /// it empties. - Returns: whether the side's best level changed.
    @inlinable @inline(__always)
    mutating func remove(side: Int, level id: UInt32, shares: UInt64, orderGone: Bool) -> Bool {
        let touchedTop = sides[side].best == id  // loads beside the level's, not after it
        var level = pool[Int(id)]
        guard level.orders > 0 else { return false }  // already freed: an order can leave only once
        level.shares = level.shares >= shares ? level.shares &- shares : 0
        if orderGone { level.orders &-= 1 }
        // The level goes with its last order, never before: every live order keeps its index. (Its shares are the
        // sum of its orders', each more than 0, so they reach 0 only then too.)
        if level.orders > 0 {
            pool[Int(id)] = level
        } else {
            dropLevel(side: side, key: level.key)
            freeLevel(id)
        }
        return touchedTop
    }

    /// Takes the emptied level with `key` out of its side's sorted keys (the only search on the way out).
    @inlinable
    mutating func dropLevel(side: Int, key: Int32) {
        let s = sides[side]
        let count = Int(s.count)
        let keys = Self.keys(s), ids = Self.ids(s)
        let i = Self.lowerBound(keys, count: count, key: key)
        guard i < count && keys[i] == key else { return }  // every pool level is on its side: cannot miss
        let after = count &- i &- 1
        if after > 0 {
            UnsafeMutableRawPointer(keys + i).copyMemory(from: keys + i + 1, byteCount: after &* 4)
            UnsafeMutableRawPointer(ids + i).copyMemory(from: ids + i + 1, byteCount: after &* 4)
        }
        keys[count &- 1] = .max  // the vacated slot: below nothing (see lowerBound)
        sides[side].count = Int32(truncatingIfNeeded: count &- 1)
        if after == 0 && count > 1 { sides[side].best = ids[count &- 2] }
    }

    @inlinable @inline(__always)
    mutating func allocateLevel() -> UInt32 {
        if freeHead != Self.none {
            let id = freeHead
            freeHead = UInt32(truncatingIfNeeded: pool[Int(id)].shares)
            return id
        }
        if poolUsed == poolCapacity { growPool() }
        poolUsed &+= 1
        return UInt32(truncatingIfNeeded: poolUsed &- 1)
    }

    @inlinable @inline(__always)
    mutating func freeLevel(_ id: UInt32) {
        pool[Int(id)] = Level(shares: UInt64(freeHead), orders: 0, key: 0)
        freeHead = id
    }

    /// The best level's key and shares; nil for an empty side.
    @inlinable @inline(__always)
    func best(side: Int) -> (key: Int32, shares: UInt64)? {
        let s = sides[side]
        guard s.count > 0 else { return nil }
        let top = storage.pool[Int(s.best)]  // the storage's pool: right in a copy too
        return (top.key, top.shares)
    }

    /// A copy of one side's levels, best first (tests, snapshots).
    func levels(side: Int, isBid: Bool) -> [PriceLevels.Level] {
        let s = sides[side]
        guard s.count > 0 else { return [] }
        let ids = Self.ids(s)
        return (0..<Int(s.count)).reversed().map {
            let level = storage.pool[Int(ids[$0])]
            return PriceLevels.Level(price: Self.price(level.key, isBid: isBid), shares: level.shares, orders: level.orders)
        }
    }

    /// Moves a side into a block of `capacity` levels (at the directory, or a book deeper than its reserve).
    @usableFromInline
    mutating func resize(side: Int, capacity: Int) {
        let old = sides[side]
        let capacity = (capacity + 7) & ~7  // whole groups of 8 keys (see lowerBound)
        let base = UnsafeMutableRawPointer.allocate(byteCount: capacity * 8, alignment: 64)
        // Written whole now, so the first orders do not page-fault; keys past the count are below nothing.
        base.initializeMemory(as: Int32.self, repeating: .max, count: capacity)
        (base + capacity * 4).initializeMemory(as: UInt32.self, repeating: 0, count: capacity)
        var new = old
        new.base = base
        new.capacity = Int32(capacity)
        if old.count > 0 {
            Self.keys(new).update(from: Self.keys(old), count: Int(old.count))
            Self.ids(new).update(from: Self.ids(old), count: Int(old.count))
            growths += 1
        }
        old.base?.deallocate()
        sides[side] = new
    }

    /// Doubles the pool (more price levels live at once than orders were expected): indices stay valid.
    @usableFromInline
    mutating func growPool() {
        let bigger = UnsafeMutablePointer<Level>.allocate(capacity: poolCapacity * 2)
        bigger.initialize(repeating: Level(shares: 0, orders: 0, key: 0), count: poolCapacity * 2)
        bigger.update(from: pool, count: poolCapacity)
        pool.deallocate()
        pool = bigger
        storage.pool = bigger
        poolCapacity *= 2
        growths += 1
    }
}
