import DSICore
import Testing

/// A subscriber's loss check: in order, skips, repeats, conflation, images, a resume with no history, and a
/// publisher that sends wild sequences (found by the `frames` fuzzer: it trapped on overflow).
@Suite struct TopicTrackerTests {
    func tick(_ kind: Tick.Kind, locate: UInt16, topicSeq: UInt64, flags: UInt8 = 0) -> Tick {
        var t = Tick(kind: kind)
        t.stockLocate = locate
        t.topicSeq = topicSeq
        t.flags = flags
        return t
    }

    @Test func eachTopicIsCheckedOnItsOwn() {
        var tracker = TopicTracker()
        #expect(tracker.observe(tick(.trade, locate: 1, topicSeq: 1)) == .inOrder)
        #expect(tracker.observe(tick(.quote, locate: 1, topicSeq: 1)) == .inOrder, "another kind, another topic")
        #expect(tracker.observe(tick(.trade, locate: 2, topicSeq: 1)) == .inOrder, "another symbol, another topic")
        #expect(tracker.observe(tick(.trade, locate: 1, topicSeq: 4)) == .skipped(count: 2))
        #expect(tracker.observe(tick(.trade, locate: 1, topicSeq: 4)) == .repeated)
        #expect(tracker.observe(tick(.quote, locate: 1, topicSeq: 9, flags: Tick.Flags.conflated)) == .inOrder)
        #expect(tracker.missed == 2 && tracker.repeated == 1 && tracker.conflated == 7)
        // An image sets where a topic stands; the next update follows it.
        #expect(tracker.observe(tick(.trade, locate: 3, topicSeq: 40, flags: Tick.Flags.image)) == .inOrder)
        #expect(tracker.observe(tick(.trade, locate: 3, topicSeq: 41)) == .inOrder)
        // A resume with no history: each topic's first update is where it starts.
        var resumed = TopicTracker()
        resumed.startsMidStream = true
        #expect(resumed.observe(tick(.trade, locate: 5, topicSeq: 700)) == .inOrder)
        #expect(resumed.observe(tick(.trade, locate: 5, topicSeq: 702)) == .skipped(count: 1))
    }

    @Test func wildSequencesSaturateInsteadOfTrapping() {
        var tracker = TopicTracker()
        _ = tracker.observe(tick(.trade, locate: 1, topicSeq: .max))
        _ = tracker.observe(tick(.quote, locate: 1, topicSeq: .max))
        _ = tracker.observe(tick(.status, locate: 1, topicSeq: .max, flags: Tick.Flags.conflated))
        _ = tracker.observe(tick(.tradeBreak, locate: 1, topicSeq: .max, flags: Tick.Flags.conflated))
        #expect(tracker.missed == .max && tracker.conflated == .max)
    }
}
