import Atomics

/// A counter written by one thread and read by any: the writer adds with a plain load and store (no locked
/// read-modify-write on the hot path), readers get a recent value.
///
/// - warning: Only one thread may call `add`. Use one counter per writer and sum them when reading.
public final class Counter: @unchecked Sendable {
    // @unchecked Sendable: the value is an atomic; the single-writer rule is documented above.
    @usableFromInline let value: UnsafeAtomic<UInt64>

    public init() { value = .create(0) }
    deinit { value.destroy() }

    /// Adds `n` (single writer only).
    @inlinable
    public func add(_ n: UInt64 = 1) {
        value.store(value.load(ordering: .relaxed) &+ n, ordering: .relaxed)
    }

    /// Sets the value (single writer only): for gauges and values mirrored from elsewhere.
    @inlinable
    public func set(_ n: UInt64) { value.store(n, ordering: .relaxed) }

    /// The current value, from any thread.
    public var load: UInt64 { value.load(ordering: .relaxed) }
}
