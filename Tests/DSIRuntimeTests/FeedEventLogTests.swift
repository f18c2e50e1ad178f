import DSICore
import DSIFeeds
import DSITestSupport
import Testing

@testable import DSIRuntime

/// The feed's event log under a storm: each kind is held to its rate, and what is held back is counted by name, in
/// the next line of its kind or in a summary once the storm is over.
struct FeedEventLogTests {
    @Test func aStormOfOneKindIsHeldToItsRateAndSummarisedByName() {
        let capture = LogCapture()
        var log = FeedEventLog(feed: "f", logger: capture.logger())
        var processor = FeedProcessor(expectedOrders: 64)
        for i in 0..<30 { processor.events.push(.beyondEnd(sequence: 101 + UInt64(i), end: 100)) }
        processor.events.push(.endOfSession(sequence: 100))
        log.drain(&processor)
        let dropped = capture.all.filter { $0.contains("beyond the session's announced end") }
        #expect(dropped.count == 10, "the rate: \(capture.all)")
        #expect(capture.all.contains { $0.contains("announced its end after sequence 99") }, "another kind has its own rate")
        log.housekeeping(processor, now: Clock.monotonicNanos() + 2_000_000_000)
        #expect(
            capture.all.last
                == "warning feed f: 20 more packets beyond the session's end were not logged; the counters have them all",
            "\(capture.all)")
    }
}
