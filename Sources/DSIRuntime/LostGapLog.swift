import DSICore
import DSIFeeds
import Logging

/// Logs each range a feed gave up as lost, with its exact bounds, at a bounded rate (a storm of gaps must not turn
/// into a storm of log lines on the pipeline thread); what the rate holds back is counted in the next line.
struct LostGapLog {
    let feed: String
    let logger: Logger
    var lastLogged: LostRange? = nil
    var windowStart: UInt64 = 0
    var linesInWindow = 0
    var suppressed = 0
    static let linesPerSecond = 10

    init(feed: String, logger: Logger) {
        self.feed = feed
        self.logger = logger
    }

    mutating func note(_ lost: LostRange?, counters: FeedCounters) {
        guard let lost, lost != lastLogged else { return }
        lastLogged = lost
        let now = Clock.monotonicNanos()
        if now - windowStart > 1_000_000_000 {
            windowStart = now
            linesInWindow = 0
        }
        guard linesInWindow < Self.linesPerSecond else {
            suppressed += 1
            return
        }
        linesInWindow += 1
        let held = suppressed > 0 ? " (\(suppressed) more lost ranges not logged; see the counters)" : ""
        suppressed = 0
        logger.warning("""
            feed \(feed): messages \(lost.first)...\(lost.last) (\(lost.last - lost.first + 1)) lost: no line and no \
            re-request delivered them; total lost \(counters.lostMessages.load) in \(counters.lostGaps.load) ranges\(held)
            """)
    }
}
