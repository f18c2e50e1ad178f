import CDSIShims
import DSICore
import Glibc

/// What a worker does when a duty cycle found no work.
public enum IdleStrategyKind: String, Sendable, Codable, CaseIterable {
    /// Busy poll with a CPU pause hint: lowest latency, one full core. Never in tests.
    case spin
    /// `sched_yield`: gives the core to anything runnable, else returns at once.
    case yield
    /// Spin a little, then yield, then sleep for growing periods up to a cap: for shared machines and tests.
    case backoff
}

/// The state of one worker's idle strategy.
public struct IdleStrategy: Sendable {
    public let kind: IdleStrategyKind
    @usableFromInline var idleCycles = 0
    /// Longest sleep under `backoff`, ns: bounds the latency an idle worker adds when work arrives. (Workers set
    /// their timer slack to 1 µs, so the kernel does not stretch it by its default 50 µs.)
    public var maxParkNanos: UInt64 = 50_000

    public init(_ kind: IdleStrategyKind) { self.kind = kind }

    /// Called after every duty cycle with the work it did.
    @inlinable
    public mutating func idle(workDone: Int) {
        if workDone > 0 {
            idleCycles = 0
            return
        }
        idleCycles &+= 1
        switch kind {
        case .spin:
            CDSIShims_cpu_pause()
        case .yield:
            sched_yield()
        case .backoff:
            if idleCycles < 100 {
                CDSIShims_cpu_pause()
            } else if idleCycles < 200 {
                sched_yield()
            } else {
                let step = UInt64(idleCycles - 199)
                Clock.sleep(nanos: Swift.min(maxParkNanos, 1_000 << Swift.min(step, 20)))
            }
        }
    }
}
