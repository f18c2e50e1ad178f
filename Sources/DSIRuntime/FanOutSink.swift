import DSICore
import DSIFeeds

/// A feed pipeline's end: each tick is named with its feed, then offered to every branch the feed reaches, which
/// applies its own filters (those on the feed's worker) and writes it into its own publish ring. With one branch it
/// is one filtered ring.
public struct FanOutSink: TickSink {
    public var branches: [FilteringSink<TickRingSink>]
    /// The feed's name as ticks carry it.
    public let feed: Symbol

    public init(branches: [FilteringSink<TickRingSink>], feed: Symbol = Symbol(raw: 0)) {
        self.branches = branches
        self.feed = feed
    }

    @inlinable
    public mutating func publish(_ tick: Tick) {
        var named = tick
        named.feed = feed
        for b in branches.indices { branches[b].publish(named) }
    }
}
