import Glibc

/// Clocks the hot path reads. `vDSO` calls: no syscall, no allocation.
public enum Clock {
    /// Wall-clock time in ns since the Unix epoch: the kernel's receive timestamps use this clock, so latencies
    /// measured against them (on one host) read it too.
    @inlinable
    public static func realtimeNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// Monotonic time in ns, for pacing and durations.
    @inlinable
    public static func monotonicNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// `now - then`, or 0 when `then` is later: two clocks (a stream's receive times, the wall clock) or a capture's
    /// timestamps need not agree, and a time span must never wrap.
    @inlinable
    public static func elapsed(_ now: UInt64, since then: UInt64) -> UInt64 { now > then ? now - then : 0 }

    /// Sleeps for about `nanos` ns (may return early on a signal, which callers treat as a spurious wake-up).
    public static func sleep(nanos: UInt64) {
        var ts = timespec(tv_sec: Int(nanos / 1_000_000_000), tv_nsec: Int(nanos % 1_000_000_000))
        nanosleep(&ts, nil)
    }
}
