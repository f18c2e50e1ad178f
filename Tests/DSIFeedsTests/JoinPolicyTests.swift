import DSICore
import DSIFeeds
import Testing

/// A handler started in the middle of a session: where it starts, what it claims lost, what it asks for.
@Suite struct JoinPolicyTests {
    func packet(_ first: UInt64, _ count: Int) -> [UInt8] { FeedHarness.packet(first, count) }

    func policy(_ join: JoinPolicy) -> RecoveryPolicy {
        var p = FeedHarness.policy(server: true)
        p.join = join
        p.requestMessages = 1_000
        p.maxRequestsInFlight = 8
        p.requestTimeoutNanos = 1_000_000
        return p
    }

    /// Joins at sequence 500 771, as the late handler did, and feeds a few packets.
    func joinLate(_ join: JoinPolicy) -> FeedHarness {
        var run = FeedHarness(policy: policy(join))
        for i in UInt64(0)..<4 { run.feed(packet(500_771 + i * 3, 3), at: 1_000 + i) }
        return run
    }

    @Test func firstStartsWhereTheLinesAreAndClaimsNothingBefore() {
        var run = joinLate(.first)
        #expect(run.seqs == Array(500_771...500_782), "confirmed by the lines, then handled from the first packet")
        #expect(run.joins == [500_771], "subscribers get a status tick saying where the stream starts")
        run.poll(10_000_000)
        #expect(run.requests.sent.isEmpty && run.gaps.isEmpty && !run.processor.hasOpenGap)
        #expect(
            run.drainEvents().first
                == .joined(
                    session: SessionKey("GAPS")!, start: 500_771, firstSeen: 500_771,
                    policy: .first))
    }

    @Test func recoverAsksForTheMorningInPacedPiecesAndLosesNothing() {
        var run = joinLate(.recover)
        #expect(run.seqs.isEmpty, "held until what comes before is recovered")
        #expect(run.processor.missingMessages == 500_770)
        var now: UInt64 = 10_000
        var rounds = 0
        while run.processor.hasOpenGap && rounds < 10_000 {
            run.poll(now)
            #expect(run.requests.sent.count <= 8, "never more than maxRequestsInFlight at once")
            for (first, count) in run.requests.sent {
                // The server answers with what fits in one datagram: 40 messages of each piece of 1000.
                run.feed(packet(first, Int(min(count, 40))), at: now, line: LineIndex.recovery)
            }
            run.requests.sent.removeAll()
            now += 1_000_000
            rounds += 1
        }
        #expect(run.seqs == Array(1...500_782))
        #expect(run.gaps.isEmpty && run.processor.counters.lostMessages.load == 0)
        #expect(run.processor.counters.recoveredMessages.load == 500_770)
        #expect(run.joins.isEmpty, "the stream starts at the session's start")
    }

    @Test func aSequenceStartsThereAndRecoversTheRest() {
        var run = joinLate(.sequence(500_000))
        run.poll(10_000)
        #expect(run.requests.sent.first.map { ($0.first, $0.count) } ?? (0, 0) == (500_000, 771))
        run.feed(packet(500_000, 771), at: 20_000, line: LineIndex.recovery)
        #expect(run.seqs == Array(500_000...500_782))
        #expect(run.joins == [500_000])

        var ahead = joinLate(.sequence(500_775))
        #expect(ahead.seqs == Array(500_775...500_782), "earlier messages are skipped, not handled or lost")
        ahead.poll(10_000)
        #expect(ahead.requests.sent.isEmpty && ahead.gaps.isEmpty)
    }

    @Test func firstDoesNotStartAtAStray() {
        var run = FeedHarness(policy: policy(.first))
        run.feed(packet(1_000_000_000_000, 1), at: 0)  // the first packet seen is a stray
        for s in UInt64(0)..<5 { run.feed(packet(70_000 + s, 1), at: 10 + s) }
        #expect(run.joins == [70_000] && run.seqs == Array(70_000...70_004))
        run.finish(100)
        #expect(run.processor.counters.foreignSessionPackets.load + run.processor.counters.implausiblePackets.load == 1)
    }

    @Test func aFirstPacketNearTheSessionsStartMeansItsFirstPacketsWereLost() {
        var run = FeedHarness(policy: policy(.first))
        for s in UInt64(20)...25 { run.feed(packet(s, 1), at: s) }  // started before the session; 1...19 lost
        run.poll(10_000)
        #expect(run.joins.isEmpty && run.requests.sent.first.map { ($0.first, $0.count) } ?? (0, 0) == (1, 19))
    }

    @Test func joinPolicyParsesWhatTheConfigAllows() {
        #expect(JoinPolicy("first") == .first && JoinPolicy("recover") == .recover && JoinPolicy("42") == .sequence(42))
        #expect(JoinPolicy("0") == nil && JoinPolicy("-3") == nil && JoinPolicy("latest") == nil && JoinPolicy("") == nil)
        #expect(JoinPolicy(String(UInt64.max)) == nil, "beyond any session")
    }
}
