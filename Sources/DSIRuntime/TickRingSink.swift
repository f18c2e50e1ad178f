import Atomics
import CDSIShims
import DSICore
import DSIFeeds

/// The pipeline's end: writes each tick in place into the publish ring's next slot (the publisher numbers the stream).
/// When the ring is full it waits (`block`, lossless) or drops and counts (`drop`).
public struct TickRingSink: TickSink {
    @usableFromInline let ring: SPSCRing
    @usableFromInline let policy: BackPressure
    /// Ticks dropped because the ring was full (`drop` only).
    public let dropped = Counter()
    /// Times the pipeline had to wait for the publisher (`block` only).
    public let stalls = Counter()
    /// Set when the consumer is gone for good: waiting would never end, so ticks are dropped and counted instead.
    @usableFromInline let consumerGone: ManagedAtomic<Bool>
    /// Stage stamps for `dsi bench jitter` (nil in production: one predictable branch per tick).
    @usableFromInline let stamps: StageStamps?

    public init(ring: SPSCRing, policy: BackPressure, consumerGone: ManagedAtomic<Bool>, stamps: StageStamps? = nil) {
        self.ring = ring
        self.policy = policy
        self.consumerGone = consumerGone
        self.stamps = stamps
    }

    @inlinable
    public mutating func publish(_ tick: Tick) {
        var slot = ring.claim()
        if slot == nil {
            if policy == .drop {
                dropped.add()
                return
            }
            stalls.add()
            while slot == nil {
                if consumerGone.load(ordering: .relaxed) {
                    dropped.add()
                    return
                }
                CDSIShims_cpu_pause()
                slot = ring.claim()
            }
        }
        slot!.storeBytes(of: tick, as: Tick.self)
        if let stamps { stamps.stampEnqueued(Clock.realtimeNanos()) }
        ring.commit()
    }
}
