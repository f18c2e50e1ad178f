import Atomics

/// A single-producer single-consumer ring of preallocated fixed-size slots, with a zero-copy API.
///
/// The producer claims a free slot, writes in place and commits; the consumer peeks a full slot, reads in place and
/// releases it. Both sides have batch forms. Indices only grow (they wrap at 2^63, centuries away); a slot is
/// `index & mask`. Each index sits alone in a 128-byte block (two cache lines, so the adjacent-line prefetcher does not
/// pair it with its neighbour), next to the owner's cached copy of the other side's index: an atomic load of the other
/// side happens only when the cached copy says the ring looks full (producer) or empty (consumer).
///
/// - warning: Exactly one thread may call the producer methods and one thread the consumer methods. Slot pointers are
///   valid until the slot is committed (producer) or released (consumer); do not keep them past that.
public final class SPSCRing: @unchecked Sendable {
    // @unchecked Sendable: the only shared state is the two atomics; every plain field is owned by one side.

    /// Bytes per slot (a multiple of 64, so that every slot is cache-line aligned).
    public let slotSize: Int
    /// Number of slots (a power of two).
    public let capacity: Int
    @usableFromInline let mask: Int
    @usableFromInline let slots: UnsafeMutableRawPointer
    /// Written by the producer (release), read by the consumer (acquire).
    @usableFromInline let tail: UnsafeAtomic<Int>
    /// Written by the consumer (release), read by the producer (acquire).
    @usableFromInline let head: UnsafeAtomic<Int>
    /// Producer-owned: its own tail and its last view of `head`.
    @usableFromInline let producerState: UnsafeMutablePointer<Int>
    /// Consumer-owned: its own head and its last view of `tail`.
    @usableFromInline let consumerState: UnsafeMutablePointer<Int>
    private let memory: RingMemory

    static let block = 128

    /// The slot count and slot size a ring asked for `capacity` slots of `slotSize` bytes has: a power of two, and a
    /// multiple of 64.
    static func rounded(capacity requested: Int, slotSize requestedSlot: Int) -> (capacity: Int, slotSize: Int) {
        var capacity = 1
        while capacity < requested { capacity <<= 1 }
        return (capacity, (requestedSlot + 63) & ~63)
    }

    /// Bytes a ring of `capacity` slots of `slotSize` bytes allocates (after rounding, with its control blocks).
    public static func bytes(capacity: Int, slotSize: Int) -> Int {
        let (slots, size) = rounded(capacity: capacity, slotSize: slotSize)
        return 4 * block + slots * size
    }

    /// Creates a ring whose memory is on `node` (the consumer's NUMA node, ideally), pre-touched.
    /// - Parameters:
    ///   - capacity: slot count; rounded up to a power of two.
    ///   - slotSize: bytes per slot; rounded up to a multiple of 64.
    public init(capacity requested: Int, slotSize requestedSlot: Int, node: Int32? = nil) {
        precondition(requested > 0 && requestedSlot > 0, "a ring needs at least one slot of at least one byte")
        let (capacity, slotSize) = Self.rounded(capacity: requested, slotSize: requestedSlot)
        self.capacity = capacity
        self.mask = capacity - 1
        self.slotSize = slotSize
        let controlBytes = 4 * Self.block
        memory = RingMemory(byteCount: Self.bytes(capacity: requested, slotSize: requestedSlot), node: node)
        let base = memory.base
        // Blocks: [tail][producer state][head][consumer state], then the slots.
        let tailStorage = base.bindMemory(to: Int.AtomicRepresentation.self, capacity: 1)
        tailStorage.initialize(to: Int.AtomicRepresentation(0))
        tail = UnsafeAtomic(at: tailStorage)
        let headStorage = (base + 2 * Self.block).bindMemory(to: Int.AtomicRepresentation.self, capacity: 1)
        headStorage.initialize(to: Int.AtomicRepresentation(0))
        head = UnsafeAtomic(at: headStorage)
        producerState = (base + Self.block).bindMemory(to: Int.self, capacity: 2)
        producerState.initialize(repeating: 0, count: 2)
        consumerState = (base + 3 * Self.block).bindMemory(to: Int.self, capacity: 2)
        consumerState.initialize(repeating: 0, count: 2)
        slots = base + controlBytes
    }

    /// The NUMA node the slots live on, if libnuma placed them.
    public var node: Int32? { memory.node }
    /// Whether the slots are on huge pages (reserved, or transparent ones requested).
    public var hugePages: Bool { memory.hugePages }
    /// Whether the slots are on reserved huge pages (`vm.nr_hugepages`'s pool).
    public var reservedHugePages: Bool { memory.reservedHugePages }

    // MARK: Producer

    /// How many slots the producer can claim now, up to `limit`, without waiting.
    @inlinable
    public func freeSlots(limit: Int) -> Int {
        let t = producerState[0]
        var free = capacity - (t - producerState[1])
        if free < limit {
            producerState[1] = head.load(ordering: .acquiring)
            free = capacity - (t - producerState[1])
        }
        return Swift.min(free, limit)
    }

    /// The `offset`-th free slot after the last committed one. Only valid for `offset < freeSlots(limit:)`.
    @inlinable
    public func producerSlot(_ offset: Int = 0) -> UnsafeMutableRawPointer {
        slots + ((producerState[0] &+ offset) & mask) &* slotSize
    }

    /// Claims one free slot to write in place, or nil when the ring is full.
    @inlinable
    public func claim() -> UnsafeMutableRawPointer? {
        freeSlots(limit: 1) == 1 ? producerSlot() : nil
    }

    /// Publishes the next `count` claimed slots to the consumer, in order.
    @inlinable
    public func commit(_ count: Int = 1) {
        let t = producerState[0] &+ count
        producerState[0] = t
        tail.store(t, ordering: .releasing)
    }

    // MARK: Consumer

    /// How many committed slots the consumer can read now, up to `limit`.
    @inlinable
    public func readySlots(limit: Int) -> Int {
        let h = consumerState[0]
        var ready = consumerState[1] - h
        if ready < limit {
            consumerState[1] = tail.load(ordering: .acquiring)
            ready = consumerState[1] - h
        }
        return Swift.min(ready, limit)
    }

    /// The `offset`-th committed slot not yet released. Only valid for `offset < readySlots(limit:)`.
    @inlinable
    public func consumerSlot(_ offset: Int = 0) -> UnsafeRawPointer {
        UnsafeRawPointer(slots + ((consumerState[0] &+ offset) & mask) &* slotSize)
    }

    /// The oldest committed slot, or nil when the ring is empty.
    @inlinable
    public func peek() -> UnsafeRawPointer? {
        readySlots(limit: 1) == 1 ? consumerSlot() : nil
    }

    /// Returns the `count` oldest slots to the producer.
    @inlinable
    public func release(_ count: Int = 1) {
        let h = consumerState[0] &+ count
        consumerState[0] = h
        head.store(h, ordering: .releasing)
    }

    // MARK: Inspection (any thread; a snapshot)

    /// Committed slots not yet released, as seen now.
    public var count: Int {
        let h = head.load(ordering: .acquiring)  // head first: the tail read after it is never behind it
        return tail.load(ordering: .acquiring) - h
    }

    /// Checks the invariants that must hold whenever neither side is mid-call. For tests.
    public func testOnly_verifyInvariants() {
        let h = head.load(ordering: .acquiring), t = tail.load(ordering: .acquiring)
        precondition(h <= t && t - h <= capacity, "ring indices out of order: head \(h), tail \(t), capacity \(capacity)")
        precondition(producerState[0] == t && consumerState[0] == h, "owned copies disagree with the shared indices")
        precondition(producerState[1] <= h && consumerState[1] <= t, "a cached index is ahead of the real one")
    }

    // No `destroy()` on the two atomics: that would free their storage, which belongs to `memory`. Their values are
    // plain integers, so there is nothing to deinitialize before `memory` goes.
}
