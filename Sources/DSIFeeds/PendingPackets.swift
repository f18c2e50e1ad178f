/// Packets that arrived ahead of a gap, held (copied) until the gap is filled or given up, then handled in sequence
/// order. Fixed size, allocated once: the gap path copies, but never allocates.
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
    /// Held packets, ordered by first sequence number, from `head` on (taking the lowest moves `head`, not the
    /// array: draining thousands of held packets stays linear).
    @usableFromInline var entries: [Entry]
    @usableFromInline var head = 0
    @usableFromInline var freeSlots: [Int]

    public init(capacity: Int) {
        self.capacity = capacity
        storage = .allocate(byteCount: capacity * Self.slotSize, alignment: 64)
        entries = []
        entries.reserveCapacity(capacity)
        freeSlots = Array((0..<capacity).reversed())
    }

    deinit { storage.deallocate() }

    public var isEmpty: Bool { head == entries.count }
    public var isFull: Bool { freeSlots.isEmpty }
    public var count: Int { entries.count - head }
    /// The lowest first-sequence held.
    public var lowest: UInt64? { isEmpty ? nil : entries[head].first }

    /// Copies a packet in, keeping the order; false (nothing stored) when full or the packet is too large.
    @discardableResult
    public func insert(first: UInt64, count: Int, bytes: UnsafeRawPointer, length: Int, receiveTime: UInt64, line: Int) -> Bool {
        guard length <= Self.slotSize, let slot = freeSlots.popLast() else { return false }
        (storage + slot * Self.slotSize).copyMemory(from: bytes, byteCount: length)
        let entry = Entry(first: first, count: count, length: length, receiveTime: receiveTime, line: line, slot: slot)
        // Packets after a gap usually arrive in order: look from the end.
        if isEmpty {
            entries.removeAll(keepingCapacity: true)
            head = 0
        }
        var i = entries.count
        while i > head && entries[i - 1].first > first { i -= 1 }
        entries.insert(entry, at: i)
        return true
    }

    /// The bytes of a held packet.
    public func bytes(_ entry: Entry) -> UnsafeRawPointer { UnsafeRawPointer(storage + entry.slot * Self.slotSize) }

    /// Removes and returns the lowest packet.
    @discardableResult
    public func removeLowest() -> Entry? {
        guard !isEmpty else { return nil }
        let e = entries[head]
        head += 1
        freeSlots.append(e.slot)
        if isEmpty {
            entries.removeAll(keepingCapacity: true)
            head = 0
        }
        return e
    }
}
