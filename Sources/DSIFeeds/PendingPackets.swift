/// Packets that arrived ahead of a gap, held (copied) until the gap is filled or given up, then handled in sequence
/// order. Fixed size, allocated once: the gap path copies, but never allocates.
///
/// A binary min-heap by first sequence number: packets may arrive in any order (a hostile sender may send them in
/// descending order), and each insert and removal costs O(log n) whatever the order; the storage never grows.
public final class PendingPackets {
    public struct Entry {
        public var first: UInt64
        public var count: Int
        public var length: Int
        public var receiveTime: UInt64
        public var line: Int
        @usableFromInline var slot: Int
    }

    public static let slotSize = 2048
    public let capacity: Int
    @usableFromInline let storage: UnsafeMutableRawPointer
    /// The heap of held packets (the lowest first sequence at index 0), `count` of `capacity` in use.
    @usableFromInline let heap: UnsafeMutablePointer<Entry>
    /// Free slots of `storage`, `capacity - count` of them from the bottom.
    @usableFromInline let freeSlots: UnsafeMutablePointer<Int>
    public private(set) var count = 0

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
        storage = .allocate(byteCount: self.capacity * Self.slotSize, alignment: 64)
        heap = .allocate(capacity: self.capacity)
        freeSlots = .allocate(capacity: self.capacity)
        for i in 0..<self.capacity { freeSlots[i] = self.capacity - 1 - i }
    }

    deinit {
        storage.deallocate()
        heap.deallocate()
        freeSlots.deallocate()
    }

    public var isEmpty: Bool { count == 0 }
    public var isFull: Bool { count == capacity }
    /// The lowest first-sequence held.
    public var lowest: UInt64? { count == 0 ? nil : heap[0].first }

    /// Copies a packet in; false (nothing stored) when full or the packet is larger than a slot.
    @discardableResult
    public func insert(first: UInt64, count: Int, bytes: UnsafeRawPointer, length: Int, receiveTime: UInt64, line: Int) -> Bool {
        guard length <= Self.slotSize, self.count < capacity else { return false }
        let slot = freeSlots[capacity - 1 - self.count]  // the free slots sit below `capacity - count`
        (storage + slot * Self.slotSize).copyMemory(from: bytes, byteCount: length)
        var i = self.count
        self.count += 1
        // Sift up: i's parent is (i - 1) / 2.
        while i > 0, heap[(i - 1) / 2].first > first {
            heap[i] = heap[(i - 1) / 2]
            i = (i - 1) / 2
        }
        heap[i] = Entry(first: first, count: count, length: length, receiveTime: receiveTime, line: line, slot: slot)
        return true
    }

    /// The bytes of a held packet, valid until the next `insert`.
    public func bytes(_ entry: Entry) -> UnsafeRawPointer { UnsafeRawPointer(storage + entry.slot * Self.slotSize) }

    /// Removes and returns the lowest packet. Its bytes stay readable until the next `insert`.
    @discardableResult
    public func removeLowest() -> Entry? {
        guard count > 0 else { return nil }
        let lowest = heap[0]
        count -= 1
        freeSlots[capacity - 1 - count] = lowest.slot
        let last = heap[count]
        // Sift the last entry down from the root.
        var i = 0
        while true {
            let left = 2 * i + 1
            guard left < count else { break }
            let child = left + 1 < count && heap[left + 1].first < heap[left].first ? left + 1 : left
            guard heap[child].first < last.first else { break }
            heap[i] = heap[child]
            i = child
        }
        if count > 0 { heap[i] = last }
        return lowest
    }
}
