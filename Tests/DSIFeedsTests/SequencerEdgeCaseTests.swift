import DSICore
import DSIFeeds
import Testing

/// Edge cases found by reading the sequencer as an attacker would: claims that outlive the frontier, copies of held
/// packets, a server that stops answering, packets past the end, clocks that go backwards, a stop before the session
/// is confirmed.
@Suite struct SequencerEdgeCaseTests {
    let builder = FeedHarness.builder
    func packet(_ first: UInt64, _ count: Int) -> [UInt8] { FeedHarness.packet(first, count) }

    @Test func aPendingClaimThatAConfirmedJumpOvertookIsForgotten() {
        var policy = FeedHarness.policy(server: false, confirm: 1)
        policy.lines = 2
        var run = FeedHarness(policy: policy)
        run.feed(packet(1, 4), at: 1_000)
        run.feed(builder.heartbeat(next: 105), at: 2_000, line: 0)  // a claim, pending
        let jump: UInt64 = 1_000_000_000
        run.feed(builder.heartbeat(next: jump), at: 3_000, line: 0)  // far ahead: a run of its own, adopted
        run.feed(builder.heartbeat(next: jump + 1), at: 4_000, line: 1)  // must not corroborate the stale claim
        run.poll(100_000_000)
        #expect(run.gaps == [5...(jump - 1)], "one range, from the old frontier to the jump; never backwards")
    }

    @Test func theOtherLinesCopyOfAHeldPacketIsNotHeldAgain() {
        var run = FeedHarness(policy: FeedHarness.policy(server: true, confirm: 1))
        run.feed(packet(1, 1), at: 0)
        run.feed(packet(3, 1), at: 0, line: 0)
        run.feed(packet(3, 1), at: 0, line: 1)
        #expect(run.processor.heldPackets == 1)
        #expect(run.processor.counters.duplicatePackets.load == 1)
        run.feed(packet(2, 1), at: 0, line: 1)
        #expect(run.seqs == [1, 2, 3])
    }

    @Test func aServerThatStopsAnsweringIsTreatedAsAbsentAndItsLossesReportedOnce() {
        var policy = FeedHarness.policy(server: true, confirm: 1)
        policy.requestMessages = 64
        policy.maxRequestsInFlight = 8
        var run = FeedHarness(policy: policy)
        run.feed(packet(1, 1), at: 1_000)
        run.feed(packet(100_002, 1), at: 2_000)  // 100 000 missing; the server never answers
        var now: UInt64 = 2_000
        while run.processor.hasOpenGap && now < 10_000_000 {
            now += 5_000
            run.poll(now)
        }
        #expect(!run.processor.hasOpenGap, "given up within a round of retries, not piece by piece")
        #expect(now < 100_000, "at \(now) ns")
        #expect(run.lost == Array(2...100_001), "exactly the missing range")
        #expect(run.gaps.count <= 3, "a few gap ticks (pieces asked for apart are merged), not one per piece: \(run.gaps)")
        #expect(run.requests.sent.count <= 8 * 3 + 2, "\(run.requests.sent.count) requests to a silent server")
        #expect(run.seqs == [1, 100_002])
    }

    @Test func aServerThatAnswersAgainIsUsedAgain() {
        var run = FeedHarness(policy: FeedHarness.policy(server: true, confirm: 1))
        run.feed(packet(1, 1), at: 1_000)
        run.feed(packet(5, 1), at: 2_000)
        var now: UInt64 = 2_000
        for _ in 0..<10 { now += 20_000; run.poll(now) }  // silent: 2...4 reported lost
        #expect(run.gaps == [2...4])
        run.feed(packet(8, 1), at: now)  // another hole; a probe goes out
        run.requests.sent.removeAll()
        now += 20_000
        run.poll(now)
        let probe = run.requests.sent.first
        #expect(probe?.first == 6)
        run.feed(packet(6, 2), at: now + 1, line: LineIndex.recovery)  // the server is back
        #expect(run.seqs == [1, 5, 6, 7, 8] && run.gaps == [2...4])
    }

    @Test func aRunFarBeyondABelievedEndOpensNothing() {
        var run = FeedHarness(policy: FeedHarness.policy(server: true, confirm: 1))
        for s in UInt64(1)...5 { run.feed(packet(s, 1), at: s) }
        run.feed(builder.endOfSession(next: 6), at: 10)
        #expect(run.processor.sessionEnded)
        for i in UInt64(0)..<3 { run.feed(packet(10_000_000 + i, 1), at: 20 + i) }
        run.poll(1_000_000)
        #expect(!run.processor.hasOpenGap && run.requests.sent.isEmpty && run.gaps.isEmpty)
        #expect(run.processor.counters.beyondEndPackets.load == 3)
    }

    @Test func aClockGoingBackwardsNeverSpacesRepeatsApart() {
        var policy = FeedHarness.policy(server: false, confirm: 1)
        policy.lines = 1
        var run = FeedHarness(policy: policy)
        run.feed(packet(1, 1), at: 5_000_000_000)
        run.feed(builder.heartbeat(next: 50), at: 5_000_000_100)
        run.feed(builder.heartbeat(next: 50), at: 1_000)  // the same line, "earlier": not a repeat a while later
        #expect(!run.processor.hasOpenGap, "one claim, not corroborated")
        run.feed(builder.heartbeat(next: 50), at: 5_600_000_000)  // the server's next heartbeat, 0.6 s on
        #expect(run.processor.hasOpenGap)
    }

    @Test func stoppingBeforeTheSessionIsConfirmedHandlesNothing() {
        var run = FeedHarness(policy: FeedHarness.policy(server: false))
        run.feed(FeedHarness.packet(1, 3, session: MoldUDP64Builder(session: "STRAY")), at: 0)
        run.processor.finish(now: 10, adoptUnconfirmed: false, sink: &run.sink)
        #expect(run.seqs.isEmpty && run.processor.currentSession == nil)
        #expect(run.processor.counters.foreignSessionPackets.load == 1)
    }

    @Test func maxLineLagBoundsTheWaitEvenWhenTheLineWaitIsLonger() {
        var policy = FeedHarness.policy(server: false, confirm: 1)
        policy.lines = 2
        policy.lineWaitNanos = 10_000_000_000
        policy.maxLineLagNanos = 1_000_000
        var run = FeedHarness(policy: policy)
        run.feed(packet(1, 1), at: 1_000)
        run.feed(packet(3, 1), at: 2_000)  // line B silent from the start
        run.poll(500_000)
        #expect(run.gaps.isEmpty)
        run.poll(1_500_000)
        #expect(run.gaps == [2...2])
    }
}
