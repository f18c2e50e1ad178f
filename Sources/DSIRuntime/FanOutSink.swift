import DSICore
import DSIFeeds

/// The pipeline's end when the graph branches: each tick is offered to every branch, which applies its own filters
/// (those on the feed's worker) and writes it into its own publish ring. With one branch it is one filtered ring.
public struct FanOutSink: TickSink {
    public var branches: [FilteringSink<TickRingSink>]

    public init(branches: [FilteringSink<TickRingSink>]) { self.branches = branches }

    @inlinable
    public mutating func publish(_ tick: Tick) {
        for b in branches.indices { branches[b].publish(tick) }
    }
}
