import DSICore

/// Packets held apart until the lines confirm them: another session's, the feed's own session's from implausibly far
/// ahead, or, before the feed has joined a session, the first packets seen.
///
/// A candidate is a run of packets of one session whose sequence numbers make sense together: each starts within
/// reach of where the run has got to. It is confirmed by `streak` packets in a row that each carry it further while
/// the feed's own session shows no sign of life; a packet of the feed's session that moves it on resets every streak.
/// So one stray packet, or a stray stream interleaved with a live session, is never believed.
///
/// Fixed storage: a few candidates, each with a small store of held packets, allocated once.
public struct SessionCandidates {
    public struct Candidate {
        public var session: SessionKey
        /// The lowest sequence number the run holds or announced.
        public var low: UInt64
        /// One past the highest sequence number the run showed.
        public var frontier: UInt64
        /// Consistent packets in a row, each carrying the run further, with no sign of life from the feed's session.
        public var streak: Int
        /// Packets of the run seen (held or not).
        public var packets: Int
        public var firstSeen: UInt64
        public var lastSeen: UInt64
        /// When the last packet counted in `streak` arrived (repeated heartbeats count only when spaced apart).
        var lastCounted: UInt64
        /// Index of the store holding its packets.
        var store: Int
    }

    /// Candidates tracked at once; a new one evicts the one heard from least recently.
    public static let capacity = 4
    /// Packets each candidate holds; when full, its oldest are let go (the missing start is then recovered or reported
    /// like any gap, should the candidate be believed).
    public static let packetsPerCandidate = 256
    /// Heartbeats of a run count toward its streak only this far apart (ns): copies on two lines arrive closer.
    static let heartbeatSpacing: UInt64 = 100_000_000

    public private(set) var list: [Candidate] = []
    let stores: [PendingPackets]
    var freeStores: [Int]

    public init() {
        stores = (0..<Self.capacity).map { _ in PendingPackets(capacity: Self.packetsPerCandidate) }
        freeStores = Array((0..<Self.capacity).reversed())
        list.reserveCapacity(Self.capacity)
    }

    @inlinable public var isEmpty: Bool { list.isEmpty }

    /// The candidate of `session` whose run a packet starting at `first`, received at `time`, continues.
    func matching(_ session: SessionKey, first: UInt64, time: UInt64, policy: RecoveryPolicy) -> Int? {
        list.firstIndex { c in
            guard c.session == session else { return false }
            let reach = policy.allowance(elapsed: Clock.elapsed(time, since: c.lastSeen))
            let floor = c.low > policy.sequenceSlack ? c.low - policy.sequenceSlack : 0
            return first >= floor && (first <= c.frontier || first - c.frontier <= reach)
        }
    }

    /// Starts a candidate for a packet that continues none; returns its index and the one it evicted to make room.
    mutating func start(session: SessionKey, first: UInt64, time: UInt64) -> (index: Int, evicted: Candidate?) {
        var evicted: Candidate? = nil
        if list.count == Self.capacity, let oldest = list.indices.min(by: { list[$0].lastSeen < list[$1].lastSeen }) {
            evicted = remove(at: oldest)
        }
        let store = freeStores.removeLast()
        list.append(
            Candidate(
                session: session, low: first, frontier: first, streak: 0, packets: 0, firstSeen: time,
                lastSeen: time, lastCounted: 0, store: store))
        return (list.count - 1, evicted)
    }

    /// Adds a packet to candidate `index`: holds its bytes (when it carries messages) and counts it toward the streak
    /// when it carries the run further.
    /// - Returns: packets let go to make room (0 or 1).
    mutating func add(
        to index: Int, bytes: UnsafeRawPointer, length: Int, first: UInt64, count: Int, time: UInt64,
        line: Int
    ) -> Int {
        var c = list[index]
        let end = first + UInt64(count)
        c.packets += 1
        c.lastSeen = max(c.lastSeen, time)
        let extends =
            count > 0
            ? end > c.frontier : first >= c.frontier && Clock.elapsed(time, since: c.lastCounted) >= Self.heartbeatSpacing
        if extends || c.packets == 1 {
            c.streak += 1
            c.lastCounted = time
        }
        c.low = min(c.low, first)
        c.frontier = max(c.frontier, end)
        var dropped = 0
        if count > 0 {
            let held = stores[c.store]
            if held.isFull {
                held.removeLowest()
                dropped = 1
            }
            held.insert(first: first, count: count, bytes: bytes, length: length, receiveTime: time, line: line)
        }
        list[index] = c
        return dropped
    }

    /// The feed's own session moved on: no candidate has persisted without it.
    @usableFromInline
    mutating func currentShowedLife() {
        for i in list.indices { list[i].streak = 0 }
    }

    /// Removes candidate `index`; its held packets stay readable in `heldPackets(of:)` until the next `start`.
    @discardableResult
    mutating func remove(at index: Int) -> Candidate {
        let c = list.remove(at: index)
        freeStores.append(c.store)
        return c
    }

    /// Empties the store of a removed candidate (its packets were handled or let go).
    func clear(_ candidate: Candidate) {
        let held = stores[candidate.store]
        while held.removeLowest() != nil {}
    }

    /// Bytes of a held packet of a removed candidate.
    func heldPackets(of candidate: Candidate) -> PendingPackets { stores[candidate.store] }

    /// The candidate with the most packets (the start of a capture too short to confirm it).
    var best: Int? { list.indices.max { list[$0].packets < list[$1].packets } }
}
