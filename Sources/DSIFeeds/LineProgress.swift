import DSICore

/// How far each line of a feed has got: the highest sequence number a packet of it started at, and when it last sent
/// anything. A line that has sent something beyond a missing range does not have it (a line delivers in order), and
/// one that has stalled will not bring it soon: once no line is both behind the range and still sending, waiting for
/// the lines is over, however far apart they run.
///
/// Fixed storage, written per packet on the pipeline thread: no allocation, no copy-on-write check.
public final class LineProgress {
    /// Lines tracked (more are not waited for); recovery replies (`LineIndex.recovery`) are not a line.
    public static let maxLines = 16

    @usableFromInline let highestFirst: UnsafeMutablePointer<UInt64>
    @usableFromInline let lastSeen: UnsafeMutablePointer<UInt64>
    /// Receive time of the latest reply from the re-request server (0: none yet).
    @usableFromInline @exclusivity(unchecked) var lastReply: UInt64 = 0
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
        guard line >= 0 && line < Self.maxLines else {
            // Not a line: a re-request server's reply (it shows the server answers), or more lines than tracked.
            if line == LineIndex.recovery && time > lastReply { lastReply = time }
            return
        }
        if first > highestFirst[line] { highestFirst[line] = first }
        if time >= lastSeen[line] { lastSeen[line] = max(time, 1) }  // 0 means never heard from
        if line >= lines { lines = line + 1 }
    }

    /// Whether some line may still deliver `sequence`: it has not sent anything beyond it yet (a line delivers in
    /// order), and it has not stalled. A line has stalled when the other lines have sent for `stall` ns since it last
    /// did: silence measured against the other lines, not the clock, so that a pause of the whole feed (of the
    /// sender, or of this process) makes no line look dead. A line not heard from at all since the feed began gets
    /// `firstWait` ns instead (a B line running behind sends its first packet late).
    /// - Parameter judgeStalls: false while received packets wait unprocessed: a line whose latest packets are still
    ///   queued would look stalled, so only passing a range counts.
    public func mayStillDeliver(_ sequence: UInt64, stall: UInt64, firstWait: UInt64, judgeStalls: Bool) -> Bool {
        var freshest: UInt64 = 0
        for line in 0..<lines { freshest = max(freshest, lastSeen[line]) }
        for line in 0..<lines where lastSeen[line] != 0 && highestFirst[line] <= sequence {
            if !judgeStalls { return true }
            let behind = freshest - lastSeen[line]
            if behind < (highestFirst[line] == 0 ? max(stall, firstWait) : stall) { return true }
        }
        return false
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
