/// Decides whether a repeated log line may be written: at most `perSecond` lines in any one-second window. Lines held
/// back are counted; the next line written reports how many, and `summary` reports them when no line follows (a
/// storm that stopped). A flood of bad packets or connections must not become a flood of log lines.
public struct LogRateLimiter: Sendable {
    public let perSecond: Int
    var windowStart: UInt64 = 0
    var inWindow = 0
    /// Lines held back since the last one written.
    public private(set) var suppressed = 0
    /// When the first line now held back was held back (monotonic ns).
    var suppressedSince: UInt64 = 0

    public init(perSecond: Int) { self.perSecond = max(1, perSecond) }

    /// Whether a line may be written at `now` (monotonic ns). Returns nil when it must be held back (it is counted);
    /// otherwise how many were held back before it, which the line should mention.
    public mutating func admit(now: UInt64) -> Int? {
        if now &- windowStart >= 1_000_000_000 {
            windowStart = now
            inWindow = 0
        }
        guard inWindow < perSecond else {
            if suppressed == 0 { suppressedSince = now }
            suppressed += 1
            return nil
        }
        inWindow += 1
        defer { suppressed = 0 }
        return suppressed
    }

    /// When lines have been held back for at least `after` ns with none written since: how many, and resets the
    /// count (the caller logs one summary line). Nil otherwise.
    public mutating func summary(now: UInt64, after: UInt64 = 1_000_000_000) -> Int? {
        guard suppressed > 0, now &- suppressedSince >= after else { return nil }
        defer { suppressed = 0 }
        return suppressed
    }
}

/// One `LogRateLimiter` per kind of repeated event (a feed's event kinds, a publisher's connection events), and a
/// cheap test of whether any kind has lines held back that a summary still owes.
public struct LogRateLimits: Sendable {
    var limiters: [LogRateLimiter]
    /// Whether some kind has held back lines not yet summarised.
    public private(set) var holding = false

    public init(kinds: Int, perSecond: Int) {
        limiters = Array(repeating: LogRateLimiter(perSecond: perSecond), count: kinds)
    }

    /// `LogRateLimiter.admit` for the lines of `kind`.
    public mutating func admit(_ kind: Int, now: UInt64) -> Int? {
        let held = limiters[kind].admit(now: now)
        if held == nil { holding = true }
        return held
    }

    /// For each kind whose held-back lines are due a summary (`LogRateLimiter.summary`): the kind and how many.
    public mutating func summaries(now: UInt64) -> [(kind: Int, held: Int)] {
        guard holding else { return [] }
        holding = false
        var due: [(kind: Int, held: Int)] = []
        for kind in limiters.indices {
            if let held = limiters[kind].summary(now: now) {
                due.append((kind, held))
            } else if limiters[kind].suppressed > 0 {
                holding = true
            }
        }
        return due
    }
}
