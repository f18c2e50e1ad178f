import DSICore
import DSIFeeds
import Logging

/// Logs what a feed's sequencer reports (joins, session changes, quarantines, losses, a full holding store), each kind
/// at a bounded rate: a storm of bad packets must not become a storm of log lines on the pipeline thread. What the
/// rate holds back is counted in the next line of its kind, or summarised once the storm is over. While ranges are
/// being recovered, a progress line goes out every few seconds.
struct FeedEventLog {
    let feed: String
    let logger: Logger
    var limits = LogRateLimits(kinds: FeedEvent.Kind.allCases.count, perSecond: 10)
    /// When the next progress line is due (monotonic ns), while something is missing.
    var nextProgress: UInt64 = 0
    static let progressInterval: UInt64 = 5_000_000_000

    init(feed: String, logger: Logger) {
        self.feed = feed
        self.logger = logger
    }

    /// Logs the events `processor` queued since the last call.
    mutating func drain(_ processor: inout FeedProcessor) {
        guard !processor.events.isEmpty else { return }
        let now = Clock.monotonicNanos()
        while let event = processor.events.pop() {
            guard let held = limits.admit(event.kind.rawValue, now: now) else { continue }
            var line = event.message(feed: feed, counters: processor.counters)
            if held > 0 { line += " (\(held) more \(event.kind.name) not logged)" }
            if event.isWarning { logger.warning("\(line)") } else { logger.notice("\(line)") }
        }
    }

    /// Once a second at most: summaries of held-back lines, and recovery progress while messages are missing.
    mutating func housekeeping(_ processor: FeedProcessor, now: UInt64) {
        for (kind, held) in limits.summaries(now: now) {
            logger.warning(
                "feed \(feed): \(held) more \(FeedEvent.Kind(rawValue: kind)!.name) were not logged; the counters have them all")
        }
        guard processor.missingMessages > 0 else {
            nextProgress = 0
            return
        }
        if nextProgress == 0 { nextProgress = now + Self.progressInterval }
        guard now >= nextProgress else { return }
        nextProgress = now + Self.progressInterval
        let c = processor.counters
        logger.notice(
            """
            feed \(feed): recovering: \(processor.missingMessages) messages missing in \(processor.missingRanges) ranges \
            from sequence \(processor.expected); \(processor.heldPackets) packets held; \(c.recoveredMessages.load) \
            recovered and \(c.lostMessages.load) lost so far; \(c.recoveryRequests.load) requests sent
            """)
    }
}
