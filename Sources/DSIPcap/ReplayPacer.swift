import CDSIShims
import DSICore

/// When each packet of a replay should leave: the capture's own spacing (optionally sped up), a fixed rate, or as
/// fast as possible. Waits sleep while far from the deadline and spin for the last stretch, so pacing is accurate to
/// a few microseconds without burning a core on long gaps.
public struct ReplayPacer: Sendable {
    public enum Mode: Sendable, Equatable {
        /// The capture's timestamps, divided by `speed` (2 = twice as fast).
        case original(speed: Double)
        /// A fixed rate, packets per second.
        case packetsPerSecond(Double)
        /// No waiting.
        case topSpeed
    }

    public let mode: Mode
    /// Below this much time to go, spin instead of sleeping (sleeps overshoot by tens of microseconds).
    public var spinThresholdNanos: UInt64 = 100_000
    /// With `.original`: a gap between two packets longer than this (ns, in capture time) is shortened to it, so a
    /// capture whose clock jumps (a day, a damaged timestamp) does not stall the replay. nil keeps every gap.
    public var maxGapNanos: UInt64? = Self.defaultMaxGapNanos
    public static let defaultMaxGapNanos: UInt64 = 2_000_000_000
    /// Gaps shortened to `maxGapNanos`, and the longest one seen (ns); only `.original` shortens any.
    public private(set) var clampedGaps = 0
    public private(set) var longestClampedGap: UInt64 = 0
    /// With `.original`: packets stamped earlier than the one before them (sent at once).
    public private(set) var backwardSteps = 0
    private var startWall: UInt64 = 0
    private var previousCapture: UInt64? = nil
    /// Capture time elapsed since the first packet, gaps shortened as configured.
    private var elapsed: UInt64 = 0
    private var sent: UInt64 = 0

    public init(mode: Mode) { self.mode = mode }

    /// How long the replay should take by its pacing (ns): the last packet's due time after the first's; 0 at top
    /// speed. What a replay's actual duration is held against.
    public private(set) var intendedNanos: UInt64 = 0

    /// The monotonic time at which a packet captured at `captureTime` is due.
    public mutating func deadline(captureTime: UInt64) -> UInt64 {
        if sent == 0 { startWall = Clock.monotonicNanos() }
        defer { sent += 1 }
        let due: UInt64
        switch mode {
        case .original(let speed):
            follow(captureTime: captureTime)
            due = startWall + UInt64(min(Double(elapsed) / speed, 1e18))
        case .packetsPerSecond(let rate):
            due = startWall + UInt64(Double(sent) * 1e9 / rate)
        case .topSpeed:
            return 0
        }
        intendedNanos = due - startWall
        return due
    }

    /// Moves `elapsed` on to a packet captured at `captureTime`, gaps shortened as configured (only the capture's
    /// own spacing has gaps to shorten).
    private mutating func follow(captureTime: UInt64) {
        guard let previous = previousCapture else {
            previousCapture = captureTime
            return
        }
        if captureTime < previous {
            // Out of order: sent at once. A small step back (reordering) keeps the timeline; a jump back further
            // than the longest gap is a new timeline (a clock reset, a damaged stamp).
            backwardSteps += 1
            if let limit = maxGapNanos, previous - captureTime > limit { previousCapture = captureTime }
            return
        }
        var gap = captureTime - previous
        if let limit = maxGapNanos, gap > limit {
            clampedGaps += 1
            longestClampedGap = max(longestClampedGap, gap)
            gap = limit
        }
        elapsed = elapsed.addingReportingOverflow(gap).overflow ? .max : elapsed + gap
        previousCapture = captureTime
    }

    /// Waits until the packet captured at `captureTime` is due; returns how late it is (ns, 0 if on time).
    @discardableResult
    public mutating func wait(captureTime: UInt64) -> UInt64 {
        let due = deadline(captureTime: captureTime)
        if due == 0 { return 0 }
        while true {
            let now = Clock.monotonicNanos()
            if now >= due { return now - due }
            let remaining = due - now
            if remaining > spinThresholdNanos {
                Clock.sleep(nanos: remaining - spinThresholdNanos)
            } else {
                CDSIShims_cpu_pause()
            }
        }
    }
}
