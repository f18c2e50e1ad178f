import DSICore
import DSIFeeds
import DSINet
import DSITestSupport
import Foundation
import Testing

/// Slow consumers under the conflate policy: one that stops reading keeps every trade, status and gap tick, gets the
/// latest quote of each symbol once it reads again (marked conflated), and stays connected within the grace period;
/// a subscriber that reads is unaffected; the publisher's backlog for the slow one stays bounded.
@Suite(.serialized) struct ConflationTests {
    @Test func aSlowSubscriberKeepsEveryTradeAndTheLatestQuotes() throws {
        let harness = try PublisherHarness(maxQueuedBytes: 2 << 20, slowConsumer: .conflate)
        harness.start()
        defer { harness.finish() }
        var named = harness.subscriberOptions()
        named.name = "slow"
        let slow = try TLSSubscriber(named)
        try slow.subscribe(.all)
        named.name = "fast"
        let fast = try TLSSubscriber(named)
        try fast.subscribe(.all)
        let raw = SubscriptionTests.stream(count: 60_000, seed: 11)
        let all = SubscriptionTests.numbered(raw)
        nonisolated(unsafe) var fastTicks: [Tick] = []
        let reader = BackgroundThread {
            let deadline = Date().addingTimeInterval(30)
            while fastTicks.count < all.count && Date() < deadline {
                if case .tick(let t)? = try? fast.nextFrame() { fastTicks.append(t) }
            }
        }
        // The slow one reads nothing while the whole stream is published.
        harness.publish(raw)
        try harness.waitForPublished(UInt64(all.count))
        reader.join()
        #expect(fastTicks == all, "the reading subscriber got every tick, in order")
        #expect(harness.publisher.quotesConflated.load > 0, "the slow one's quotes were conflated")
        // The operator's view, per subscriber, while the slow one is still behind.
        var snapshots: [SubscriberSnapshot] = []
        let seen = Date().addingTimeInterval(10)
        repeat {
            usleep(100_000)
            snapshots = harness.publisher.subscriberSnapshots
        } while !(snapshots.count == 2 && snapshots[1].ticksSent == UInt64(all.count)) && Date() < seen
        try #require(snapshots.count == 2, "\(snapshots)")
        let (slowView, fastView) = (snapshots[0], snapshots[1])
        #expect(slowView.name == "slow" && slowView.conflating && slowView.quotesConflated > 0, "\(slowView)")
        #expect(slowView.queuedBytes > 0 && slowView.ticksSent < UInt64(all.count), "\(slowView)")
        #expect(slowView.quotesConflated == harness.publisher.quotesConflated.load)
        #expect(fastView.name == "fast" && fastView.encoding == .binary && !fastView.conflating, "\(fastView)")
        #expect(fastView.ticksSent == UInt64(all.count) && fastView.quotesConflated == 0, "\(fastView)")
        #expect(fastView.everySymbol == .all && fastView.symbols == 0 && fastView.address.hasPrefix("127.0.0.1:"))
        // Now it reads: everything but replaced quotes, then the held latest quotes.
        var slowTicks: [Tick] = []
        let deadline = Date().addingTimeInterval(30)
        var quiet = 0
        while quiet < 10 && Date() < deadline {
            switch try slow.nextFrame() {
            case .tick(let t)?: slowTicks.append(t); quiet = 0
            case nil: quiet += 1
            default: break
            }
        }
        let nonQuotes = all.filter { $0.kind != .quote }
        #expect(slowTicks.filter { $0.kind != .quote } == nonQuotes, "every trade, break, status and gap tick, in order")
        var latest: [Int: Tick] = [:]
        for t in all where t.kind == .quote { latest[Topic.index(of: t)] = t }
        var lastSeen: [Int: Tick] = [:]
        for t in slowTicks where t.kind == .quote { lastSeen[Topic.index(of: t)] = t }
        #expect(lastSeen.count == latest.count && lastSeen.allSatisfy { latest[$0.key]?.streamSeq == $0.value.streamSeq })
        #expect(slowTicks.contains { $0.flags & Tick.Flags.conflated != 0 })
        #expect(slowTicks.count < all.count)
        #expect(slow.ticksMissed == 0, "jumps only on conflated quotes")
        #expect(harness.publisher.slowConsumerDisconnects.load == 0, "within the grace period, not cut off")
    }

    /// Still behind after the grace period, or four times the backlog limit behind: disconnected (memory stays bounded).
    @Test func aSubscriberThatStaysBehindIsCutOff() throws {
        let harness = try PublisherHarness(maxQueuedBytes: 64 << 10, slowConsumer: .conflate, conflateGraceNanos: 300_000_000)
        harness.start()
        defer { harness.finish() }
        let slow = try TLSSubscriber(harness.subscriberOptions())
        try slow.subscribe(.all)
        harness.publish(60_000, first: 1)  // trades only: nothing to conflate, the backlog stays
        try harness.waitForPublished(60_000)
        let deadline = Date().addingTimeInterval(10)
        while harness.publisher.slowConsumerDisconnects.load == 0 && Date() < deadline { usleep(10_000) }
        #expect(harness.publisher.slowConsumerDisconnects.load == 1)
        _ = slow
    }
}
