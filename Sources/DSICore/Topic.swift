/// A topic: what a tick's `topicSeq` counts within. One per symbol (by stock locate) and kind, one for market-wide
/// status (locate 0), and one for the stream's own reports (gaps, late joins).
public enum Topic {
    /// Topics per stock locate: the four kinds and the stream reports.
    public static let perLocate = 5
    /// Every topic there can be: stock locates are 16 bits.
    public static let count = 65_536 * perLocate

    /// The topic of `tick`, in `0..<count`.
    @inlinable
    public static func index(of tick: Tick) -> Int {
        if tick.isIntegrityReport { return perLocate - 1 }
        return Int(tick.stockLocate) * perLocate + Int(tick.kind.rawValue - 1)
    }
}

/// Numbers ticks in their topics, as the publisher does after its last filter: `topicSeq` counts from 1 in each topic.
///
/// One flat table, indexed by topic: numbering costs one load and one store, with no hashing. A class: it owns the
/// table, and whoever numbers a stream holds the one counter set.
public final class TopicSequencer {
    @usableFromInline let last: UnsafeMutablePointer<UInt64>

    public init() {
        last = .allocate(capacity: Topic.count)
        last.initialize(repeating: 0, count: Topic.count)
    }

    deinit { last.deallocate() }

    /// Gives `tick` the next sequence of its topic.
    @inlinable
    public func number(_ tick: inout Tick) {
        let topic = Topic.index(of: tick)
        last[topic] &+= 1
        tick.topicSeq = last[topic]
    }

    /// Takes a tick numbered elsewhere (read back from a journal): its topic continues after it.
    @inlinable
    public func restore(_ tick: Tick) {
        let topic = Topic.index(of: tick)
        if tick.topicSeq > last[topic] { last[topic] = tick.topicSeq }
    }

    /// Takes back the number `number` just gave `tick` (it was not sent after all, and will be numbered again).
    @inlinable
    public func unnumber(_ tick: Tick) {
        let topic = Topic.index(of: tick)
        if last[topic] == tick.topicSeq && last[topic] > 0 { last[topic] -= 1 }
    }

    /// The last sequence given in `topic`.
    @inlinable public func last(of topic: Int) -> UInt64 { last[topic] }
}
