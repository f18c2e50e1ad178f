import DSICore

/// Where normalized ticks go. Generic (never `any`) so the normalizer's call specialises into a plain store.
public protocol TickSink {
    /// Takes one tick; the sink assigns `streamSeq`.
    mutating func publish(_ tick: Tick)
}

/// Collects ticks in memory (`dsi ticks`, tests).
public struct CollectingSink: TickSink {
    public var ticks: [Tick] = []
    private var nextStreamSeq: UInt64 = 1
    public init() {}
    public mutating func publish(_ tick: Tick) {
        var t = tick
        t.streamSeq = nextStreamSeq
        nextStreamSeq += 1
        ticks.append(t)
    }
}
