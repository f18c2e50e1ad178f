import DSICore

/// Live orders by order reference number: an open-addressing hash table (linear probing, backward-shift deletion)
/// allocated once at its full size, on huge pages where the kernel allows, pre-touched, so that adding or removing an
/// order never allocates, rehashes or page-faults.
///
/// The home slot is the reference's low bits: exchanges number orders sequentially through the day, so consecutive
/// references land in consecutive slots and the orders a feed is busy with share cache lines and pages (a mixing hash
/// scatters them over the whole table: measured here, one cache and TLB miss per message). Sized for a trading day up
/// front (the config's `maxOrders`); it grows (a full rehash, counted in `growths`) only if that was too small.
///
/// A struct, not a class: its fields are then checked for exclusive access at compile time, not on every lookup.
public struct OrderTable {
    /// One live order: 24 bytes.
    public struct Entry {
        public var ref: UInt64
        public var price: UInt32
        public var shares: UInt32
        public var locate: UInt16
        /// `B` or `S`.
        public var side: UInt8
        /// The index of the price level the order rests at (the books' own bookkeeping).
        public var level: UInt32

        @inlinable
        public init(ref: UInt64, price: UInt32, shares: UInt32, locate: UInt16, side: UInt8, level: UInt32 = 0) {
            self.ref = ref; self.price = price; self.shares = shares; self.locate = locate; self.side = side
            self.level = level
        }
    }

    /// Owns the memory (freed when the last copy of the table goes).
    @usableFromInline
    final class Storage {
        let memory: RingMemory
        init(capacity: Int) {
            memory = RingMemory(byteCount: capacity * MemoryLayout<Entry>.stride)
            memory.base.bindMemory(to: Entry.self, capacity: capacity)
                .initialize(repeating: Entry(ref: OrderTable.empty, price: 0, shares: 0, locate: 0, side: 0), count: capacity)
        }
        var entries: UnsafeMutablePointer<Entry> { memory.base.assumingMemoryBound(to: Entry.self) }
    }

    @usableFromInline static let empty = UInt64.max
    @usableFromInline var storage: Storage
    @usableFromInline var entries: UnsafeMutablePointer<Entry>
    @usableFromInline var mask: Int
    @usableFromInline var _count = 0
    /// The count at which the table grows (three quarters full), kept so that an insert compares instead of
    /// multiplying.
    @usableFromInline var growAt: Int
    /// The farthest any entry has been placed from its home slot (never shrinks until a rehash). Sequential
    /// references keep it near 0, and removal then looks only that far for entries to shift back, instead of walking
    /// to the end of a run of live orders.
    @usableFromInline var maxProbe = 0
    public var count: Int { _count }
    /// How many times the table outgrew its size (each a full rehash).
    public private(set) var growths = 0

    /// - Parameter expectedOrders: the most live orders at once; the table holds twice that many slots.
    public init(expectedOrders: Int) {
        var capacity = 16
        while capacity < expectedOrders * 2 { capacity <<= 1 }
        storage = Storage(capacity: capacity)
        entries = storage.entries
        mask = capacity - 1
        growAt = capacity / 4 * 3
    }

    public var capacity: Int { mask + 1 }

    /// Bytes a table made for `expectedOrders` allocates up front (it doubles when it fills).
    public static func bytes(forExpectedOrders expectedOrders: Int) -> Int {
        var capacity = 16
        while capacity < expectedOrders * 2 { capacity <<= 1 }
        return capacity * MemoryLayout<Entry>.stride
    }

    @inlinable @inline(__always)
    func home(_ ref: UInt64) -> Int { Int(truncatingIfNeeded: ref) & mask }

    /// Starts loading `ref`'s home slot: a packet's messages are prefetched before any is handled, so their order
    /// lookups' cache misses overlap instead of following one another.
    @inlinable @inline(__always)
    public func prefetch(_ ref: UInt64) { Prefetch.read(UnsafeRawPointer(entries + home(ref))) }

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
    public mutating func insert(_ entry: Entry) -> Bool { place(entry) != nil }

    /// Adds an order and returns its slot (valid until the next insert or remove); nil (and nothing changed) when
    /// the reference is already live or is the reserved value.
    @inlinable @inline(__always)
    public mutating func place(_ entry: Entry) -> UnsafeMutablePointer<Entry>? {
        guard entry.ref != Self.empty else { return nil }
        if _count >= growAt { grow() }
        let start = home(entry.ref)
        var i = start
        while true {
            let key = entries[i].ref
            if key == entry.ref { return nil }
            if key == Self.empty {
                entries[i] = entry
                _count &+= 1  // below growAt: cannot overflow
                let distance = (i &- start) & mask
                if distance > maxProbe { maxProbe = distance }
                return entries + i
            }
            i = (i &+ 1) & mask
        }
    }

    /// Removes the order in `slot` (from `find`), shifting later entries of its probe run back so lookups need no
    /// tombstones.
    @inlinable @inline(__always)
    public mutating func remove(_ slot: UnsafeMutablePointer<Entry>) {
        var hole = slot - entries
        var i = hole
        while true {
            i = (i &+ 1) & mask
            // An entry farther than maxProbe from the hole cannot have its home at or before the hole.
            if (i &- hole) & mask > maxProbe { break }
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
        _count &-= 1  // the slot held an entry: count > 0
    }

    /// Doubles the table: only when the configured size was too small for the day.
    @usableFromInline
    mutating func grow() {
        let old = entries, oldCapacity = capacity, oldStorage = storage
        storage = Storage(capacity: oldCapacity * 2)
        entries = storage.entries
        mask = oldCapacity * 2 - 1
        growAt = oldCapacity * 2 / 4 * 3
        _count = 0
        maxProbe = 0
        growths += 1
        for i in 0..<oldCapacity where old[i].ref != Self.empty { insert(old[i]) }
        withExtendedLifetime(oldStorage) {}
    }

    /// Every live order (tests and snapshots).
    public func allEntries() -> [Entry] {
        (0..<capacity).compactMap { entries[$0].ref == Self.empty ? nil : entries[$0] }
    }
}
