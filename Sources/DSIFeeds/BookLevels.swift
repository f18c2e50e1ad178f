/// Every stock's price levels, both sides, in memory the books own: one block per book side, allocated when the
/// stock's directory entry arrives, reached through a flat table of side headers. Changing a level is a plain store:
/// no copy-on-write check, no uniqueness check, no nested array (measured: those checks were a fifth of the pipeline).
///
/// A side keeps its levels sorted by a key that grows as the price gets better (the price for bids, its complement
/// for asks), best last: the busiest end is the cheapest to change, and one search serves both sides. Keys and
/// amounts (shares and order count) are two arrays in the block: a search reads only keys (16 levels per cache line),
/// and a change then touches one more line.
///
/// Copies of a `BookLevels` share its memory (the books that hold it are never copied to be changed apart).
@usableFromInline
struct BookLevels {
    /// One side's block and how much of it is used.
    @usableFromInline
    struct Side {
        @usableFromInline var base: UnsafeMutableRawPointer?
        @usableFromInline var count: Int32
        @usableFromInline var capacity: Int32  // 16 bytes: four sides per cache line
    }

    /// What rests at one price.
    @usableFromInline
    struct Amount {
        @usableFromInline var shares: UInt64
        @usableFromInline var orders: UInt32
        @inlinable init(shares: UInt64, orders: UInt32) { self.shares = shares; self.orders = orders }
    }

    /// Owns the side headers and blocks; frees them when the last copy goes.
    @usableFromInline
    final class Storage {
        @usableFromInline let sides: UnsafeMutablePointer<Side>
        @usableFromInline var growths = 0

        init(sideCount: Int) {
            sides = .allocate(capacity: sideCount)
            sides.initialize(repeating: Side(base: nil, count: 0, capacity: 0), count: sideCount)
            self.sideCount = sideCount
        }

        let sideCount: Int

        deinit {
            for i in 0..<sideCount { sides[i].base?.deallocate() }
            sides.deallocate()
        }
    }

    /// Searches up to this many levels by counting every key below (no branch to mispredict); deeper sides are
    /// binary searched.
    @usableFromInline static let linearSearchLimit = 32
    @usableFromInline static let bytesPerLevel = 4 + MemoryLayout<Amount>.stride

    @usableFromInline let storage: Storage
    @usableFromInline let sides: UnsafeMutablePointer<Side>

    init(locates: Int) {
        storage = Storage(sideCount: locates * 2)
        sides = storage.sides
    }

    /// How many times a side outgrew its block (each an allocation and a copy: a book deeper than its reserve).
    var growths: Int { storage.growths }

    @inlinable @inline(__always)
    static func side(_ locate: UInt16, isBid: Bool) -> Int { Int(locate) &<< 1 | (isBid ? 0 : 1) }

    /// The sort key of `price`: larger is better on both sides.
    @inlinable @inline(__always)
    static func key(_ price: UInt32, isBid: Bool) -> UInt32 { isBid ? price : ~price }

    @inlinable @inline(__always)
    static func price(_ key: UInt32, isBid: Bool) -> UInt32 { isBid ? key : ~key }

    // The block of a side with capacity c: keys at 0, amounts at 4c (8-byte aligned: c is a multiple of 8).
    // Only called on sides with a block (count > 0, or after resize).
    @inlinable @inline(__always)
    static func keys(_ s: Side) -> UnsafeMutablePointer<UInt32> { s.base.unsafelyUnwrapped.assumingMemoryBound(to: UInt32.self) }
    @inlinable @inline(__always)
    static func amounts(_ s: Side) -> UnsafeMutablePointer<Amount> {
        (s.base.unsafelyUnwrapped + Int(s.capacity) &* 4).assumingMemoryBound(to: Amount.self)
    }

    /// Makes room for `levels` levels on side `side` (at the stock's directory entry, off the message path), and
    /// touches the memory so that the first orders do not page-fault.
    func reserve(side: Int, levels: Int) {
        if Int(sides[side].capacity) < levels { resize(side: side, capacity: levels) }
    }

    /// Index of the first level whose key is not below `key` (where `key` is, or would go).
    /// - Complexity: up to `linearSearchLimit` levels, every key is compared, eight at a time with no branch to
    ///   mispredict (keys past `count` are `UInt32.max`, which is below nothing); deeper sides are binary searched.
    @inlinable @inline(__always)
    static func lowerBound(_ keys: UnsafeMutablePointer<UInt32>, count: Int, key: UInt32) -> Int {
        if count <= linearSearchLimit {
            let probe = SIMD8<UInt32>(repeating: key)
            var below = SIMD8<UInt32>()
            var i = 0
            while i < count {  // reads whole groups of 8: capacities are multiples of 8
                let group = UnsafeRawPointer(keys + i).loadUnaligned(as: SIMD8<UInt32>.self)
                below &+= SIMD8<UInt32>().replacing(with: 1, where: group .< probe)
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

    /// Adds `shares` (one new order) at `key`. - Returns: whether the side's best level changed.
    @inlinable
    mutating func add(side: Int, key: UInt32, shares: UInt64) -> Bool {
        var s = sides[side]
        if s.count == s.capacity {
            resize(side: side, capacity: Swift.max(Self.linearSearchLimit, Int(s.capacity) &* 2))
            s = sides[side]
        }
        let count = Int(s.count)
        let keys = Self.keys(s), amounts = Self.amounts(s)
        let i = Self.lowerBound(keys, count: count, key: key)
        if i < count && keys[i] == key {
            amounts[i].shares &+= shares
            amounts[i].orders &+= 1
            return i == count &- 1
        }
        let after = count &- i  // levels better than the new one move up by one
        if after > 0 {
            UnsafeMutableRawPointer(keys + i + 1).copyMemory(from: keys + i, byteCount: after &* 4)
            UnsafeMutableRawPointer(amounts + i + 1)
                .copyMemory(from: amounts + i, byteCount: after &* MemoryLayout<Amount>.stride)
        }
        keys[i] = key
        amounts[i] = Amount(shares: shares, orders: 1)
        sides[side].count = s.count &+ 1
        return after == 0
    }

    /// Takes `shares` off `key`; `orderGone` when an order left the book. Removes the level when it empties.
    /// - Returns: whether the side's best level changed (false too when `key` has no level: nothing changed).
    @inlinable
    mutating func remove(side: Int, key: UInt32, shares: UInt64, orderGone: Bool) -> Bool {
        let s = sides[side]
        let count = Int(s.count)
        guard count > 0 else { return false }
        let keys = Self.keys(s), amounts = Self.amounts(s)
        let i = Self.lowerBound(keys, count: count, key: key)
        guard i < count && keys[i] == key else { return false }
        var level = amounts[i]
        level.shares = level.shares >= shares ? level.shares &- shares : 0
        if orderGone && level.orders > 0 { level.orders &-= 1 }
        if level.orders == 0 || level.shares == 0 {
            let after = count &- i &- 1
            if after > 0 {
                UnsafeMutableRawPointer(keys + i).copyMemory(from: keys + i + 1, byteCount: after &* 4)
                UnsafeMutableRawPointer(amounts + i)
                    .copyMemory(from: amounts + i + 1, byteCount: after &* MemoryLayout<Amount>.stride)
            }
            keys[count &- 1] = .max  // the vacated slot: below nothing (see lowerBound)
            sides[side].count = s.count &- 1
        } else {
            amounts[i] = level
        }
        return i == count &- 1
    }

    /// The best level's key and shares; nil for an empty side.
    @inlinable @inline(__always)
    func best(side: Int) -> (key: UInt32, shares: UInt64)? {
        let s = sides[side]
        guard s.count > 0 else { return nil }
        let top = Int(s.count) &- 1
        return (Self.keys(s)[top], Self.amounts(s)[top].shares)
    }

    /// A copy of one side's levels, best first (tests, snapshots).
    func levels(side: Int, isBid: Bool) -> [PriceLevels.Level] {
        let s = sides[side]
        guard s.count > 0 else { return [] }
        let keys = Self.keys(s), amounts = Self.amounts(s)
        return (0..<Int(s.count)).reversed().map {
            PriceLevels.Level(price: Self.price(keys[$0], isBid: isBid), shares: amounts[$0].shares, orders: amounts[$0].orders)
        }
    }

    /// Moves a side into a block of `capacity` levels (the only allocation: at the directory, or a book deeper than
    /// its reserve, counted in `growths`).
    @usableFromInline
    func resize(side: Int, capacity: Int) {
        let old = sides[side]
        let capacity = (capacity + 7) & ~7  // whole groups of 8 keys (see lowerBound)
        let base = UnsafeMutableRawPointer.allocate(byteCount: capacity * Self.bytesPerLevel, alignment: 64)
        // Written whole now, so the first orders do not page-fault; keys past the count are below nothing.
        base.initializeMemory(as: UInt32.self, repeating: .max, count: capacity)
        (base + capacity * 4).initializeMemory(as: Amount.self, repeating: Amount(shares: 0, orders: 0), count: capacity)
        let new = Side(base: base, count: old.count, capacity: Int32(capacity))
        if old.count > 0 {
            Self.keys(new).update(from: Self.keys(old), count: Int(old.count))
            Self.amounts(new).update(from: Self.amounts(old), count: Int(old.count))
            storage.growths += 1
        }
        old.base?.deallocate()
        sides[side] = new
    }
}
