import DSICore
import DSIFeeds
import Testing

/// The feed processor's gap path with a fake clock and a recording requester. The first packet is believed at once
/// (`confirm: 1`): these tests are about gaps, SessionDisciplineTests about trust.
@Suite struct GapRecoveryTests {
    typealias Harness = FeedHarness
    let builder = FeedHarness.builder
    func packet(_ first: UInt64, _ count: Int) -> [UInt8] { FeedHarness.packet(first, count) }

    @Test func anotherLineFillsTheGapInOrder() {
        var run = Harness(policy: Harness.policy(server: true, confirm: 1))
        run.feed(packet(1, 2), at: 0)
        run.feed(packet(5, 2), at: 10)  // 3...4 missing on this line
        #expect(run.seqs == [1, 2], "held, not handled out of order")
        run.feed(packet(3, 2), at: 20, line: 1)  // line B has them
        #expect(run.seqs == [1, 2, 3, 4, 5, 6])
        #expect(!run.processor.hasOpenGap)
        run.poll(1_000_000)
        #expect(run.requests.sent.isEmpty, "nothing to ask for")
        #expect(run.processor.counters.gaps.load == 1 && run.processor.counters.lostMessages.load == 0)
    }

    @Test func rerequestThenPartialReplyThenRest() {
        var run = Harness(policy: Harness.policy(server: true, confirm: 1))
        run.feed(packet(1, 1), at: 0, line: 0)
        run.feed(packet(1, 1), at: 0, line: 1)
        run.feed(packet(10, 1), at: 0, line: 0)
        run.poll(500)
        #expect(run.requests.sent.isEmpty, "line B has not moved past 2...9: the lines get lineWait first")
        run.feed(packet(11, 1), at: 2_000, line: 0)  // A goes on; B has been silent for lineWait of A's time
        run.poll(2_000)
        #expect(run.requests.sent.map(\.first) == [2] && run.requests.sent.map(\.count) == [8])
        run.feed(packet(2, 3), at: 2_100, line: LineIndex.recovery)  // a partial reply: 2...4
        run.poll(2_200)  // progress: ask for the rest at once
        #expect(run.requests.sent.map(\.first) == [2, 5] && run.requests.sent.last!.count == 5)
        run.feed(packet(5, 5), at: 2_300, line: LineIndex.recovery)
        #expect(run.seqs == Array(1...11))
        #expect(run.processor.counters.recoveredMessages.load == 8)
        #expect(run.processor.counters.recoveryRequests.load == 2)
        #expect(!run.processor.hasOpenGap)
    }

    @Test func everyLineHavingPassedEndsTheWaitAtOnce() {
        var policy = Harness.policy(server: true, confirm: 1)
        policy.lineWaitNanos = 1_000_000_000  // a lagging line would get a whole second
        var run = Harness(policy: policy)
        run.feed(packet(1, 1), at: 0, line: 0)
        run.feed(packet(1, 1), at: 0, line: 1)
        run.feed(packet(5, 1), at: 10, line: 0)
        run.poll(20)
        #expect(run.requests.sent.isEmpty, "line B has not sent anything beyond 2...4 yet: it may have them")
        run.feed(packet(6, 1), at: 30, line: 1)  // B skipped 2...5: it has not got 2...4 either
        run.poll(40)
        #expect(run.requests.sent.map(\.first) == [2] && run.requests.sent.map(\.count) == [3])
    }

    @Test func aLaggingLineGetsTheLineWait() {
        var policy = Harness.policy(server: false, confirm: 1)
        policy.lineWaitNanos = 5_000_000
        var run = Harness(policy: policy)
        for s in UInt64(1)...3 { run.feed(packet(s, 1), at: s * 1_000, line: 0) }
        run.feed(packet(1, 1), at: 3_000_000, line: 1)  // B runs 3 ms behind A
        run.feed(packet(5, 1), at: 3_000_100, line: 0)  // A dropped 4
        run.poll(3_500_000)
        #expect(run.gaps.isEmpty, "B has not passed 4 and the line wait has not run out")
        run.feed(packet(2, 1), at: 3_001_000, line: 1)
        run.feed(packet(3, 1), at: 3_002_000, line: 1)
        run.feed(packet(4, 1), at: 3_003_000, line: 1)  // B delivers 4, 3 ms after A skipped it
        #expect(run.seqs == [1, 2, 3, 4, 5] && run.gaps.isEmpty)
    }

    @Test func unrecoverableRangeIsReportedExactly() {
        var run = Harness(policy: Harness.policy(server: true, confirm: 1))
        run.feed(packet(1, 3), at: 0)
        run.feed(packet(8, 2), at: 0)
        var now: UInt64 = 2_000
        for _ in 0..<10 { run.poll(now); now += 20_000 }
        #expect(run.requests.sent.count == 2, "maxRetries requests, then give up")
        #expect(run.gaps == [4...7])
        #expect(run.seqs == [1, 2, 3, 8, 9], "what was held is handled after the loss is reported")
        #expect(run.processor.counters.lostMessages.load == 4 && run.processor.counters.lostGaps.load == 1)
        #expect(run.drainEvents().contains(.lost(LostRange(first: 4, last: 7))), "and logged with its bounds")
    }

    @Test func heartbeatRevealsGapOnIdleLine() {
        var run = Harness(policy: Harness.policy(server: false, confirm: 1))
        run.feed(packet(1, 1), at: 0)
        run.feed(builder.heartbeat(next: 6), at: 0)
        #expect(!run.processor.hasOpenGap, "one heartbeat alone is not believed to announce a loss")
        run.feed(builder.heartbeat(next: 6), at: 10, line: 1)  // the other line says the same
        #expect(run.processor.hasOpenGap)
        run.poll(5_000)
        #expect(run.gaps == [2...5])
        #expect(!run.processor.hasOpenGap)
    }

    @Test func severalRangesAreAskedForAtOnceInPieces() {
        var policy = Harness.policy(server: true, confirm: 1)
        policy.requestMessages = 10
        var run = Harness(policy: policy)
        run.feed(packet(1, 1), at: 0)
        run.feed(packet(30, 1), at: 0)  // 2...29 missing: three pieces
        run.feed(packet(40, 1), at: 0)  // 31...39 missing
        run.feed(packet(50, 1), at: 0)  // 41...49 missing
        run.poll(2_000)
        #expect(run.requests.sent.map(\.first) == [2, 12, 22, 31, 41])
        #expect(run.requests.sent.map(\.count) == [10, 10, 8, 9, 9])
        // Replies out of order: the later ranges are held until the first is filled.
        run.feed(packet(41, 9), at: 2_100, line: LineIndex.recovery)
        run.feed(packet(12, 10), at: 2_100, line: LineIndex.recovery)
        run.feed(packet(31, 9), at: 2_100, line: LineIndex.recovery)
        run.feed(packet(22, 8), at: 2_100, line: LineIndex.recovery)
        #expect(run.seqs == [1], "2...11 still missing")
        run.feed(packet(2, 10), at: 2_200, line: LineIndex.recovery)
        #expect(run.seqs == Array(1...50))
        #expect(!run.processor.hasOpenGap && run.processor.counters.lostMessages.load == 0)
    }

    @Test func requestsArePacedAndBoundedInFlight() {
        var policy = Harness.policy(server: true, confirm: 1)
        policy.maxRequestsInFlight = 4
        policy.requestsPerSecond = 1_000  // one per ms
        policy.requestTimeoutNanos = 1_000_000_000
        var run = Harness(policy: policy)
        run.feed(packet(1, 1), at: 0)
        for s in stride(from: UInt64(3), through: 41, by: 2) { run.feed(packet(s, 1), at: 0) }  // 20 one-message holes
        run.poll(2_000)
        #expect(run.requests.sent.count == 4, "at most maxRequestsInFlight at once")
        for s in [UInt64(2), 4] { run.feed(packet(s, 1), at: 3_000, line: LineIndex.recovery) }  // two answered
        run.poll(4_000)
        #expect(run.requests.sent.count == 4, "the burst is spent: the rate allows the next one 1 ms on")
        run.poll(2_002_000)
        #expect(run.requests.sent.count == 6, "two more in flight again, at the paced rate")
    }

    @Test func aLineIsJudgedStalledOnlyAgainstTheOthersAndOnlyWhenNothingIsQueued() {
        var run = Harness(policy: Harness.policy(server: false, confirm: 1))
        run.feed(packet(1, 1), at: 1_000_000)
        run.feed(packet(1, 1), at: 1_000_000, line: 1)
        run.feed(packet(3, 1), at: 1_000_100)  // A lost 2
        run.poll(1_005_000, caughtUp: true)
        #expect(run.gaps.isEmpty, "the whole feed paused (5 µs > lineWait), but B is no further behind A than 100 ns")
        run.feed(packet(2, 1), at: 1_000_200, line: 1)
        #expect(run.seqs == [1, 2, 3] && run.gaps.isEmpty)
        run.feed(packet(5, 1), at: 1_000_300)  // A lost 4
        run.feed(packet(7, 1), at: 1_001_500)  // A runs on; B has said nothing for 1.3 µs of A's time
        run.poll(1_001_600, caughtUp: false)
        #expect(run.gaps.isEmpty, "while packets wait unprocessed, B's may be among them")
        run.poll(1_001_600, caughtUp: true)
        #expect(run.gaps == [4...4], "nothing queued and B 1.3 µs behind A: B has stalled (6, seen 100 ns ago, may be late)")
        run.poll(1_003_000, caughtUp: true)
        #expect(run.gaps == [4...4, 6...6])
    }

    @Test func aRangeWaitsForTheLinesAtMostMaxLineLag() {
        var policy = Harness.policy(server: false, confirm: 1)
        policy.maxLineLagNanos = 1_000_000
        var run = Harness(policy: policy)
        run.feed(packet(1, 1), at: 1_000, line: 0)
        run.feed(packet(1, 1), at: 1_000, line: 1)
        run.feed(packet(3, 1), at: 2_000, line: 0)  // A lost 2; B is alive but never gets there
        var t: UInt64 = 2_000
        while t < 1_002_000 {
            t += 100_000
            run.feed(builder.heartbeat(next: 2), at: t, line: 1)
            run.feed(builder.heartbeat(next: 4), at: t, line: 0)
            run.poll(t, caughtUp: false)
            if t < 1_002_000 { #expect(run.gaps.isEmpty) }
        }
        #expect(run.gaps == [2...2], "even for a pipeline that never catches up")
    }

    @Test func fullStoreWithServerKeepsEverythingAndReRequests() {
        var policy = Harness.policy(server: true, confirm: 1)
        policy.holdBytes = 4 * PendingPackets.slotSize
        var run = Harness(policy: policy)
        run.feed(packet(1, 1), at: 0)
        for s in UInt64(3)...12 { run.feed(packet(s, 1), at: 0) }  // 2 missing; only 4 packets fit
        #expect(run.processor.counters.notHeldPackets.load == 6)
        #expect(run.processor.counters.lostMessages.load == 0, "nothing is given up while the server has it")
        #expect(run.drainEvents().contains(.holdingStoreFull(packets: 4, bytes: policy.holdBytes, reRequest: true)))
        run.poll(2_000)
        #expect(run.requests.sent.map(\.first) == [2], "a full store asks only for the first range")
        run.feed(packet(2, 1), at: 2_100, line: LineIndex.recovery)
        #expect(run.seqs == Array(1...6))
        run.poll(2_200)
        #expect(run.requests.sent.map(\.first) == [2, 7])
        run.feed(packet(7, 6), at: 2_300, line: LineIndex.recovery)
        #expect(run.seqs == Array(1...12) && run.processor.counters.lostMessages.load == 0)
    }

    @Test func fullStoreWithoutServerGivesUpTheOldestGap() {
        var policy = Harness.policy(server: false, confirm: 1)
        policy.holdBytes = 4 * PendingPackets.slotSize
        var run = Harness(policy: policy)
        run.feed(packet(1, 1), at: 0)
        for s in UInt64(3)...12 { run.feed(packet(s, 1), at: 0) }
        #expect(run.processor.counters.lostMessages.load == 1, "seq 2 given up to make room")
        #expect(run.seqs == [1] + Array(3...12))
    }

    @Test func fullStoreGivesUpOnlyWhatLiesBeforeAnEarlierPacket() {
        var policy = Harness.policy(server: false, confirm: 1)
        policy.holdBytes = 3 * PendingPackets.slotSize
        var run = Harness(policy: policy)
        run.feed(packet(1, 1), at: 0)
        for s in [UInt64(10), 11, 12] { run.feed(packet(s, 1), at: 0) }  // store full: 10, 11, 12
        run.feed(packet(5, 2), at: 0)  // before everything held
        #expect(run.gaps == [2...4])
        #expect(run.seqs == [1, 5, 6], "the packet in hand is handled, not counted lost")
        #expect(run.processor.counters.lostMessages.load == 3)
        #expect(run.processor.hasOpenGap, "7...9 still missing")
    }

    /// Property: random drops, duplicates and reordering over two lines, plus recovery of a random subset; every
    /// sequence number from where the feed joined ends up handled exactly once or reported lost exactly once, and
    /// handled ones are in order. With `join: recover` that is every number from 1.
    @Test(arguments: [JoinPolicy.first, .recover])
    func everyNumberHandledOnceOrReportedLost(join: JoinPolicy) {
        var random = SplitMix64(seed: 7)
        for trial in 0..<40 {
            var policy = Harness.policy(server: true, confirm: 1)
            policy.join = join
            policy.requestMessages = 3
            var run = Harness(policy: policy)
            var packets: [(UInt64, Int)] = []
            var s: UInt64 = 1
            while s < 300 {
                let n = 1 + Int(random.next() % 4)
                packets.append((s, n))
                s += UInt64(n)
            }
            var now: UInt64 = 0
            var delayed: [(UInt64, Int, Int)] = []
            for (first, count) in packets {
                for line in 0..<2 where random.next() % 10 >= 3 {  // each copy dropped with p = 0.3
                    if random.next() % 8 == 0 { delayed.append((first, count, line)); continue }  // reordered
                    run.feed(packet(first, count), at: now, line: line)
                }
                if let late = delayed.first, random.next() % 3 == 0 {
                    delayed.removeFirst()
                    run.feed(packet(late.0, late.1), at: now, line: late.2)
                }
                now += 300
                run.poll(now)
                // Answer some re-requests, like a server that is sometimes unreachable.
                while let (f, c) = run.requests.sent.first {
                    run.requests.sent.removeFirst()
                    if random.next() % 2 == 0 {
                        run.feed(packet(f, Int(min(c, 3))), at: now, line: LineIndex.recovery)
                    }
                }
            }
            run.feed(builder.endOfSession(next: s), at: now)
            run.feed(builder.endOfSession(next: s), at: now, line: 1)
            for _ in 0..<50 {
                now += 20_000
                run.poll(now)
            }
            let handled = run.seqs
            let start = run.processor.joinedAt ?? 1
            if join == .recover { #expect(start == 1) }
            #expect(handled == handled.sorted(), "trial \(trial): in order")
            #expect(Set(handled).isDisjoint(with: run.lost) && Set(handled).count == handled.count, "trial \(trial)")
            #expect(Set(handled).union(run.lost) == Set(start..<s), "trial \(trial): nothing silently skipped")
            #expect(run.processor.counters.lostMessages.load == UInt64(run.lost.count))
            #expect(run.processor.sessionEnded && !run.processor.hasOpenGap)
        }
    }
}

extension GapRecoveryTests {
    @Test func aLineNotYetHeardFromIsWaitedFor() {
        var policy = Harness.policy(server: false, confirm: 1)
        policy.lines = 2
        policy.lineWaitNanos = 20_000_000
        var run = Harness(policy: policy)
        run.feed(packet(1, 1), at: 1_000)
        run.feed(packet(3, 1), at: 2_000)  // line A lost 2; line B, 5 ms behind, has said nothing yet
        run.poll(3_000_000)
        #expect(run.gaps.isEmpty, "B may have it")
        run.feed(packet(1, 1), at: 5_001_000, line: 1)
        run.feed(packet(2, 1), at: 5_002_000, line: 1)
        #expect(run.seqs == [1, 2, 3] && run.gaps.isEmpty)
    }

    @Test func aPacketReorderedOnBothLinesIsNotTakenForLost() {
        var policy = Harness.policy(server: false, confirm: 1)
        policy.lines = 2
        policy.lineWaitNanos = 5_000
        var run = Harness(policy: policy)
        run.feed(packet(1, 1), at: 1_000, line: 0)
        run.feed(packet(1, 1), at: 1_000, line: 1)
        run.feed(packet(3, 1), at: 2_000, line: 0)  // 2 is late on both lines: both have passed it...
        run.feed(packet(3, 1), at: 2_000, line: 1)
        run.poll(2_500)
        #expect(run.gaps.isEmpty, "...but a reordered packet gets the line wait before it is called lost")
        run.feed(packet(2, 1), at: 3_000, line: 0)
        #expect(run.seqs == [1, 2, 3] && run.gaps.isEmpty)
        run.feed(packet(5, 1), at: 4_000, line: 0)
        run.feed(packet(5, 1), at: 4_000, line: 1)
        run.poll(20_000)
        #expect(run.gaps == [4...4], "what is really missing is reported once the wait is over")
    }
}
