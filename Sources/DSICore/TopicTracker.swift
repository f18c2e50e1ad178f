/// A subscriber's check that it missed nothing: every topic it takes must advance by one per update, from where its
/// image (or its first update) put it. Conflated quotes may jump on purpose and are counted apart.
public struct TopicTracker: Sendable {
    /// The last topic sequence seen, by topic (`Topic.index`), 0 for none: a flat table (made at the first tick),
    /// so a check costs a load and a store, no hashing.
    private var last: [UInt64] = []
    /// Updates that skipped ahead of their topic (the sum of the skips), arrived again, or stood for quotes dropped
    /// by conflation.
    public private(set) var missed: UInt64 = 0
    public private(set) var repeated: UInt64 = 0
    public private(set) var conflated: UInt64 = 0

    /// Set when the stream was joined by resuming from a sequence with no history before it: a topic's first update
    /// then sets its starting point (what came before the resume point is not this subscriber's to check).
    public var startsMidStream = false

    public init() {}

    /// What `tick` says about the stream.
    public enum Verdict: Equatable, Sendable {
        case inOrder
        /// `count` updates of its topic before it never arrived.
        case skipped(count: UInt64)
        /// Seen before (a resume overlapping what arrived): the caller should drop it.
        case repeated
    }

    /// Takes one tick in stream order.
    @discardableResult
    public mutating func observe(_ tick: Tick) -> Verdict {
        if last.isEmpty { last = Array(repeating: 0, count: Topic.count) }
        let topic = Topic.index(of: tick)
        let before = last[topic]
        if before == 0 && startsMidStream {
            last[topic] = tick.topicSeq
            return .inOrder
        }
        if tick.flags & Tick.Flags.image != 0 {
            last[topic] = max(before, tick.topicSeq)
            return .inOrder
        }
        if tick.topicSeq <= before {
            repeated += 1
            return .repeated
        }
        last[topic] = tick.topicSeq
        let skip = tick.topicSeq - before - 1
        guard skip > 0 else { return .inOrder }
        // Saturating: a publisher that sends a wild topic sequence must not trap the subscriber.
        if tick.flags & Tick.Flags.conflated != 0 {
            conflated = conflated.addingReportingOverflow(skip).overflow ? .max : conflated + skip
            return .inOrder
        }
        missed = missed.addingReportingOverflow(skip).overflow ? .max : missed + skip
        return .skipped(count: skip)
    }
}
