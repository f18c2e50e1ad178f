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
    private var startWall: UInt64 = 0
    private var firstCapture: UInt64? = nil
    private var sent: UInt64 = 0

    public init(mode: Mode) { self.mode = mode }

    /// The monotonic time at which a packet captured at `captureTime` is due.
    public mutating func deadline(captureTime: UInt64) -> UInt64 {
        if firstCapture == nil {
            firstCapture = captureTime
            startWall = Clock.monotonicNanos()
        }
        defer { sent += 1 }
        switch mode {
        case .original(let speed):
            let offset = captureTime >= firstCapture! ? captureTime - firstCapture! : 0
            return startWall + UInt64(Double(offset) / speed)
        case .packetsPerSecond(let rate):
            return startWall + UInt64(Double(sent) * 1e9 / rate)
        case .topSpeed:
            return 0
        }
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
