/// When each tick passed each stage of the handler (realtime ns, the kernel receive stamp's clock), for
/// `dsi bench jitter`. One slot per tick, by its place in the stream (the publisher's stream sequence: with no
/// filter and no journal, the n-th tick the pipeline puts in the ring is the n-th it numbers). Each stage is written
/// by one thread only and read after the run, when the threads have been joined. Preallocated; ticks past
/// `capacity` are not stamped. Off the hot path when absent: the handler checks for nil once per tick or batch.
public final class StageStamps: @unchecked Sendable {
    // @unchecked Sendable: each array has a single writer; readers wait for the writers to finish (thread join).
    public enum Stage: Int, CaseIterable, Sendable {
        /// The pipeline committed the tick to the publish ring (decoded, normalized, in the ring).
        case inRing
        /// The publisher took it from the ring and numbered it.
        case dequeued
        /// Its TLS record (its batch's) was handed to the socket.
        case written
    }

    public let capacity: Int
    private let slots: [UnsafeMutablePointer<UInt64>]
    /// Ticks the pipeline has stamped (its next index is this + 1).
    public private(set) var enqueued = 0

    public init(capacity: Int) {
        self.capacity = capacity
        slots = Stage.allCases.map { _ in
            let p = UnsafeMutablePointer<UInt64>.allocate(capacity: capacity + 1)
            p.initialize(repeating: 0, count: capacity + 1)
            return p
        }
    }

    deinit { for p in slots { p.deallocate() } }

    /// The pipeline's stamp for its next tick.
    public func stampEnqueued(_ now: UInt64) {
        enqueued += 1
        if enqueued <= capacity { slot(.inRing)[enqueued] = now }
    }

    /// A stamp for stream sequence `index` (1-based) at `stage`.
    public func stamp(_ stage: Stage, _ index: UInt64, _ now: UInt64) {
        if index >= 1 && index <= UInt64(capacity) { slot(stage)[Int(index)] = now }
    }

    /// The stamp of `index` at `stage`; 0 when it was never stamped.
    public func time(_ stage: Stage, _ index: UInt64) -> UInt64 {
        index >= 1 && index <= UInt64(capacity) ? slot(stage)[Int(index)] : 0
    }

    func slot(_ stage: Stage) -> UnsafeMutablePointer<UInt64> { slots[stage.rawValue] }
}
