import CDSIShims

/// Cache prefetch hints: start loading memory that will be read shortly, so the miss overlaps other work.
public enum Prefetch {
    /// Asks for the cache line at `p` (any address: a prefetch never faults).
    @inlinable @inline(__always)
    public static func read(_ p: UnsafeRawPointer) { CDSIShims_prefetch(p) }
}
