/// Tracks a MoldUDP64 session's sequence numbers: which messages of a packet are new, which were seen, what is missing.
///
/// Sequence numbers start at 1. A packet carries `count` messages from `first`; heartbeats and end-of-session packets
/// carry none but still tell the next expected number, so an idle line still shows a gap.
public struct SequenceTracker: Sendable {
    /// What to do with a packet's messages.
    public enum Outcome: Equatable, Sendable {
        /// Process the packet's messages from index `skip` on (the first `skip` were seen already).
        case accept(skip: Int)
        /// Every message of the packet was seen already (or it carries none and shows no gap).
        case duplicate
        /// `first...last` are missing; then process the packet's messages from index 0.
        case gap(first: UInt64, last: UInt64)
    }

    /// The next sequence number not yet seen (set only by this type; internal for inlining).
    @usableFromInline var _expected: UInt64
    public var expected: UInt64 { _expected }

    public init(expected: UInt64 = 1) { _expected = expected }

    /// Classifies a packet of `count` messages starting at `first`, and advances past it.
    @inlinable
    public mutating func track(first: UInt64, count: Int) -> Outcome {
        let end = first &+ UInt64(count)
        if first > _expected {
            let missing = Outcome.gap(first: _expected, last: first - 1)
            _expected = end
            return missing
        }
        if end <= _expected { return .duplicate }
        let skip = Int(_expected - first)
        _expected = end
        return .accept(skip: skip)
    }

    /// Moves the expectation forward to `next` (after a gap was recovered or given up), never back.
    public mutating func advance(to next: UInt64) {
        if next > _expected { _expected = next }
    }
}
