/// How far each line of a feed has got: the highest sequence number a packet of it started at, and when it last sent
/// anything. A line that has sent something beyond a missing range does not have it (a line delivers in order), so
/// once every live line has, waiting for the lines is over.
///
/// Fixed storage, written per packet on the pipeline thread: no allocation, no copy-on-write check.
public final class LineProgress {
    /// Lines tracked (more are not waited for); recovery replies (`LineIndex.recovery`) are not a line.
    public static let maxLines = 16

    @usableFromInline let highestFirst: UnsafeMutablePointer<UInt64>
    @usableFromInline let lastSeen: UnsafeMutablePointer<UInt64>
    /// One past the highest line index seen. Unchecked: only the pipeline thread touches it, and a dynamic
    /// exclusivity check per packet cost more than the rest of `note`.
    @usableFromInline @exclusivity(unchecked) var lines = 0

    public init() {
        highestFirst = .allocate(capacity: Self.maxLines)
        highestFirst.initialize(repeating: 0, count: Self.maxLines)
        lastSeen = .allocate(capacity: Self.maxLines)
        lastSeen.initialize(repeating: 0, count: Self.maxLines)
    }

    deinit {
        highestFirst.deallocate()
        lastSeen.deallocate()
    }

    /// Notes a packet of `line` starting at `first`, received at `time`.
    @inlinable @inline(__always)
    public func note(line: Int, first: UInt64, time: UInt64) {
        guard line >= 0 && line < Self.maxLines else { return }  // recovery replies, or more lines than tracked
        if first > highestFirst[line] { highestFirst[line] = first }
        if time >= lastSeen[line] { lastSeen[line] = max(time, 1) }  // 0 means never heard from
        if line >= lines { lines = line + 1 }
    }

    /// Whether every line heard from within `silence` ns of `now` has sent a packet starting after `sequence`.
    /// False when no line is live (nothing says the range is not on its way).
    public func allPassed(_ sequence: UInt64, now: UInt64, silence: UInt64) -> Bool {
        var live = 0
        for line in 0..<lines where lastSeen[line] != 0 && (now &- lastSeen[line] <= silence || lastSeen[line] > now) {
            live += 1
            if highestFirst[line] <= sequence { return false }
        }
        return live > 0
    }

    /// The receive time of the latest packet of the line that lags most, among lines heard from within `silence` ns
    /// of `now` (nil when none is). While packets wait unprocessed, no line can be relied on to have delivered
    /// anything received after this: the line wait runs on this clock.
    public func slowest(now: UInt64, silence: UInt64) -> UInt64? {
        var slowest: UInt64? = nil
        for line in 0..<lines where lastSeen[line] != 0 && (now &- lastSeen[line] <= silence || lastSeen[line] > now) {
            slowest = min(slowest ?? .max, lastSeen[line])
        }
        return slowest
    }

    /// The feed starts at `time` with `expected` lines: each is waited for as if heard from then, so that a line
    /// running behind is not mistaken for a dead one before its first packet arrives.
    public func begin(at time: UInt64, expected: Int) {
        for line in 0..<min(expected, Self.maxLines) where lastSeen[line] == 0 { lastSeen[line] = max(time, 1) }
        lines = max(lines, min(expected, Self.maxLines))
    }

    /// Forgets every line's position (a new session numbers from 1 again).
    public func reset() {
        highestFirst.update(repeating: 0, count: Self.maxLines)
        lastSeen.update(repeating: 0, count: Self.maxLines)
        lines = 0
    }
}
