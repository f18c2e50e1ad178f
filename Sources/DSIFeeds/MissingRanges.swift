/// The sequence ranges a feed is missing, in order and disjoint, each with its recovery state: when the lines were
/// last waited on, when it was last asked for, how often, and whether it was given up.
///
/// Together with the held packets and what was handled, they cover every sequence number below the feed's frontier
/// exactly once. New ranges appear at the end (a packet beyond the frontier); data removes them from anywhere.
public struct MissingRanges {
    public struct Entry: Sendable, Equatable {
        public var first: UInt64
        public var last: UInt64
        /// Stream time when the range was first seen missing, or when a line last made progress on it: the line
        /// wait runs from here.
        public var seenAt: UInt64
        /// When the last request for it was sent (0: none awaiting a reply).
        public var requestedAt: UInt64 = 0
        /// Requests sent without progress.
        public var attempts = 0
        /// Given up: reported lost when the feed reaches it (unless a line delivers it first).
        public var lost = false
        /// A line delivered it but it could not be kept (the holding store was full): no line will bring it again,
        /// only a re-request.
        public var dropped = false

        public init(
            first: UInt64, last: UInt64, seenAt: UInt64, requestedAt: UInt64 = 0, attempts: Int = 0,
            lost: Bool = false, dropped: Bool = false
        ) {
            self.first = first
            self.last = last
            self.seenAt = seenAt
            self.requestedAt = requestedAt
            self.attempts = attempts
            self.lost = lost
            self.dropped = dropped
        }

        public var count: UInt64 { last - first + 1 }
    }

    /// Ranges from `head` on (taking the first moves `head`, so draining a long list stays linear).
    @usableFromInline var ranges: [Entry] = []
    @usableFromInline var head = 0
    /// Messages in all ranges, lost ones included.
    public private(set) var messages: UInt64 = 0

    public init() {}

    @inlinable public var isEmpty: Bool { head == ranges.count }
    public var count: Int { ranges.count - head }
    public var first: Entry? { isEmpty ? nil : ranges[head] }
    /// The ranges in order.
    public var all: ArraySlice<Entry> { ranges[head...] }

    /// Adds `first...last`, which lies beyond every range held.
    public mutating func append(first: UInt64, last: UInt64, seenAt: UInt64, dropped: Bool = false) {
        precondition(first <= last && (isEmpty || ranges[ranges.count - 1].last < first), "ranges are appended in order")
        compactIfDrained()
        messages += last - first + 1
        if !isEmpty, ranges[ranges.count - 1].last + 1 == first, ranges[ranges.count - 1].requestedAt == 0,
            !ranges[ranges.count - 1].lost, ranges[ranges.count - 1].dropped == dropped
        {
            // Adjacent and not yet asked for: one range, one request.
            ranges[ranges.count - 1].last = last
            return
        }
        ranges.append(Entry(first: first, last: last, seenAt: seenAt, dropped: dropped))
    }

    /// Removes `first..<end` (data arrived for it). What remains of a range a reply touched is asked for again at
    /// once; what remains of one a line touched waits for the lines again from `now`.
    public mutating func remove(first: UInt64, end: UInt64, byRecovery: Bool, now: UInt64) {
        guard end > first, !isEmpty else { return }
        var i = index(atOrAfter: first)
        while i < ranges.count, ranges[i].first < end {
            let r = ranges[i]
            let cutFirst = max(r.first, first)
            let cutLast = min(r.last, end - 1)
            messages -= cutLast - cutFirst + 1
            let progressed = Self.progressed(r, byRecovery: byRecovery, now: now)
            if cutFirst == r.first && cutLast == r.last {
                i = removeRange(at: i)
                continue
            }
            if cutFirst == r.first {
                ranges[i] = progressed.with(first: cutLast + 1, last: r.last)
            } else if cutLast == r.last {
                ranges[i].last = cutFirst - 1
            } else {
                // A packet in the middle: two ranges remain.
                ranges[i].last = cutFirst - 1
                ranges.insert(progressed.with(first: cutLast + 1, last: r.last), at: i + 1)
                i += 1
            }
            i += 1
        }
    }

    /// Whether any number in `first..<end` is missing.
    public func overlaps(first: UInt64, end: UInt64) -> Bool {
        let i = index(atOrAfter: first)
        return i < ranges.count && ranges[i].first < end
    }

    /// A reply for the range holding `sequence` arrived but could not be kept (the holding store was full): the
    /// request is not counted against the range, which is asked for again when there is room.
    public mutating func refused(at sequence: UInt64) {
        let i = index(atOrAfter: sequence)
        guard i < ranges.count, ranges[i].first <= sequence else { return }
        ranges[i].requestedAt = 0
        ranges[i].attempts = max(0, ranges[i].attempts - 1)
    }

    /// Splits the range at `index` after its first `count` messages (so that a large range is asked for in pieces);
    /// the rest keeps the range's wait but no request.
    public mutating func split(at index: Int, after count: UInt64) {
        let r = ranges[index]
        guard count < r.count else { return }
        ranges[index].last = r.first + count - 1
        var rest = r.with(first: r.first + count, last: r.last)
        rest.requestedAt = 0
        rest.attempts = 0
        ranges.insert(rest, at: index + 1)
    }

    /// Removes and returns the first range.
    @discardableResult
    public mutating func removeFirst() -> Entry {
        let r = ranges[head]
        messages -= r.count
        removeRange(at: head)
        return r
    }

    /// Removes every range (what they hold was reported lost or no longer matters).
    public mutating func removeAll() {
        ranges.removeAll(keepingCapacity: true)
        head = 0
        messages = 0
    }

    /// The range at `index` (an index of `indices`).
    public subscript(index: Int) -> Entry {
        get { ranges[index] }
        set { ranges[index] = newValue }
    }

    /// Indices of the ranges in order.
    public var indices: Range<Int> { head..<ranges.count }

    // MARK: Internals

    /// The first range whose last number is at or after `sequence` (binary search).
    func index(atOrAfter sequence: UInt64) -> Int {
        var low = head
        var high = ranges.count
        while low < high {
            let mid = (low + high) / 2
            if ranges[mid].last < sequence { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Removes the range at `i`; returns the index of the one that followed it.
    @discardableResult
    mutating func removeRange(at i: Int) -> Int {
        if i == head {
            head += 1
            if head == ranges.count {
                ranges.removeAll(keepingCapacity: true)
                head = 0
            }
            return head
        }
        ranges.remove(at: i)
        return i
    }

    mutating func compactIfDrained() {
        if head > 1024 && head * 2 > ranges.count {
            ranges.removeFirst(head)
            head = 0
        }
    }

    static func progressed(_ r: Entry, byRecovery: Bool, now: UInt64) -> Entry {
        var p = r
        p.requestedAt = 0
        p.attempts = 0
        if !byRecovery { p.seenAt = max(r.seenAt, now) }
        return p
    }

    /// Checks that the ranges are ordered, disjoint and add up to `messages` (tests).
    public func testOnly_verifyInvariants() -> Bool {
        var total: UInt64 = 0
        var previous: UInt64? = nil
        for r in all {
            guard r.first <= r.last else { return false }
            if let previous, r.first <= previous { return false }
            previous = r.last
            total += r.count
        }
        return total == messages
    }
}

extension MissingRanges.Entry {
    func with(first: UInt64, last: UInt64) -> Self {
        var r = self
        r.first = first
        r.last = last
        return r
    }
}
