/// Live orders by order reference number: an open-addressing hash table (linear probing, backward-shift deletion)
/// allocated once at its full size, so adding or removing an order never allocates or rehashes.
///
/// Sized for a trading day up front (the config's `maxOrders`); it grows (and says so) only if that was too small.
public final class OrderTable {
    /// One live order: 24 bytes.
    public struct Entry {
        public var ref: UInt64
        public var price: UInt32
        public var shares: UInt32
        public var locate: UInt16
        /// `B` or `S`.
        public var side: UInt8

        @inlinable
        public init(ref: UInt64, price: UInt32, shares: UInt32, locate: UInt16, side: UInt8) {
            self.ref = ref; self.price = price; self.shares = shares; self.locate = locate; self.side = side
        }
    }

    @usableFromInline static let empty = UInt64.max
    @usableFromInline var entries: UnsafeMutablePointer<Entry>
    @usableFromInline var mask: Int
    @usableFromInline var shift: UInt64
    @usableFromInline var _count = 0
    public var count: Int { _count }
    /// How many times the table outgrew its size (each a full rehash).
    public private(set) var growths = 0

    /// - Parameter expectedOrders: the most live orders at once; the table holds twice that many slots.
    public init(expectedOrders: Int) {
        var capacity = 16
        while capacity < expectedOrders * 2 { capacity <<= 1 }
        (entries, mask, shift) = Self.allocate(capacity)
    }

    deinit { entries.deallocate() }

    public var capacity: Int { mask + 1 }

    static func allocate(_ capacity: Int) -> (UnsafeMutablePointer<Entry>, Int, UInt64) {
        let entries = UnsafeMutablePointer<Entry>.allocate(capacity: capacity)
        entries.initialize(repeating: Entry(ref: empty, price: 0, shares: 0, locate: 0, side: 0), count: capacity)
        return (entries, capacity - 1, UInt64(64 - capacity.trailingZeroBitCount))
    }

    /// Fibonacci hashing: order references are often sequential, and the multiply spreads them over the table.
    @inlinable @inline(__always)
    func home(_ ref: UInt64) -> Int { Int(truncatingIfNeeded: (ref &* 0x9E37_79B9_7F4A_7C15) >> shift) }

    /// The slot holding `ref`, or nil.
    @inlinable
    public func find(_ ref: UInt64) -> UnsafeMutablePointer<Entry>? {
        var i = home(ref)
        while true {
            let key = entries[i].ref
            if key == ref { return entries + i }
            if key == Self.empty { return nil }
            i = (i &+ 1) & mask
        }
    }

    /// Adds an order; returns false (and changes nothing) when the reference is already live or is the reserved value.
    @inlinable
    @discardableResult
    public func insert(_ entry: Entry) -> Bool {
        guard entry.ref != Self.empty else { return false }
        if (_count + 1) * 4 > capacity * 3 { grow() }
        var i = home(entry.ref)
        while true {
            let key = entries[i].ref
            if key == entry.ref { return false }
            if key == Self.empty {
                entries[i] = entry
                _count += 1
                return true
            }
            i = (i &+ 1) & mask
        }
    }

    /// Removes the order in `slot` (from `find`), shifting later entries of its probe run back so lookups need no
    /// tombstones.
    @inlinable
    public func remove(_ slot: UnsafeMutablePointer<Entry>) {
        var hole = slot - entries
        var i = hole
        while true {
            i = (i &+ 1) & mask
            let key = entries[i].ref
            if key == Self.empty { break }
            let h = home(key)
            // Move entry i into the hole unless its home lies cyclically in (hole, i].
            let inRange = hole <= i ? (hole < h && h <= i) : (hole < h || h <= i)
            if !inRange {
                entries[hole] = entries[i]
                hole = i
            }
        }
        entries[hole].ref = Self.empty
        _count -= 1
    }

    /// Doubles the table: only when the configured size was too small for the day.
    @usableFromInline
    func grow() {
        let old = entries, oldCapacity = capacity
        (entries, mask, shift) = Self.allocate(oldCapacity * 2)
        _count = 0
        growths += 1
        for i in 0..<oldCapacity where old[i].ref != Self.empty { insert(old[i]) }
        old.deallocate()
    }

    /// Every live order (tests and snapshots).
    public func allEntries() -> [Entry] {
        (0..<capacity).compactMap { entries[$0].ref == Self.empty ? nil : entries[$0] }
    }
}
