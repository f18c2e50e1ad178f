import DSICore
import DSIFeeds
import Testing

/// What the sequencer believes: new sessions, far jumps and ends of session only on the lines' evidence.
@Suite struct SessionDisciplineTests {
    let day1 = FeedHarness.builder
    let day2 = MoldUDP64Builder(session: "GAPS2")
    let stranger = MoldUDP64Builder(session: "OTHER")
    func packet(_ first: UInt64, _ count: Int, _ session: MoldUDP64Builder = FeedHarness.builder) -> [UInt8] {
        FeedHarness.packet(first, count, session: session)
    }

    @Test func theFirstSessionIsConfirmedTooAndAStrayThatArrivesFirstIsNotTakenForIt() {
        var run = FeedHarness(policy: FeedHarness.policy(server: true))
        run.feed(packet(1, 3, stranger), at: 0)  // a broken switch's packet, before the feed's first
        run.feed(packet(1, 1), at: 10)
        run.feed(packet(2, 1), at: 20)
        #expect(run.seqs.isEmpty, "not confirmed yet: held")
        run.feed(packet(3, 1), at: 30)
        #expect(run.seqs == [1, 2, 3] && run.processor.currentSession == SessionKey("GAPS"))
        for s in UInt64(4)...9 { run.feed(packet(s, 1), at: 30 + s) }
        run.finish(100)
        #expect(run.seqs == Array(1...9) && run.processor.counters.sessionChanges.load == 0)
        #expect(run.processor.counters.foreignSessionPackets.load == 1)
    }

    @Test func oneStrayPacketOfAnotherSessionChangesNothing() {
        var run = FeedHarness(policy: FeedHarness.policy(server: true))
        var now: UInt64 = 0
        for s in stride(from: UInt64(1), through: 20, by: 2) {
            run.feed(packet(s, 2), at: now)
            if s == 7 { run.feed(packet(1, 3, stranger), at: now) }  // the stray, in the middle of the day
            now += 1_000
        }
        #expect(run.seqs == Array(1...20), "every genuine message, once, in order")
        #expect(run.gaps.isEmpty && !run.processor.hasOpenGap)
        #expect(run.processor.counters.sessionChanges.load == 0)
        #expect(run.drainEvents().contains { if case .foreignSession = $0 { true } else { false } }, "logged")
        run.finish(now)
        #expect(run.processor.counters.foreignSessionPackets.load == 1, "counted when let go")
        #expect(run.seqs == Array(1...20))
    }

    @Test func aStrayStreamInterleavedWithALiveSessionIsNeverBelieved() {
        var run = FeedHarness(policy: FeedHarness.policy(server: true))
        for s in UInt64(1)...50 {
            run.feed(packet(s, 1), at: s * 1_000)
            run.feed(packet(s, 1, stranger), at: s * 1_000 + 1)  // persists, but so does the live session
        }
        #expect(run.seqs == Array(1...50))
        #expect(run.processor.counters.sessionChanges.load == 0)
        run.finish(60_000)
        #expect(run.processor.counters.foreignSessionPackets.load == 50)
    }

    @Test func aNewDayAfterEndOfSessionIsBelievedOnceConfirmed() {
        var run = FeedHarness(policy: FeedHarness.policy(server: true))
        run.feed(packet(1, 1), at: 0)
        run.feed(packet(2, 1), at: 0)
        run.feed(packet(6, 2), at: 0)  // the third packet confirms the session; 3...5 missing, 6...7 held
        run.feed(day1.endOfSession(next: 8), at: 10)
        #expect(run.processor.sessionEnded, "at the frontier: believed at once")
        run.feed(packet(1, 1, day2), at: 20)
        run.feed(packet(2, 1, day2), at: 30)
        #expect(run.processor.counters.sessionChanges.load == 0, "two packets are not yet enough")
        run.feed(packet(3, 1, day2), at: 40)
        #expect(run.processor.counters.sessionChanges.load == 1)
        #expect(run.gaps == [3...5], "the old day's hole is reported, not dropped")
        #expect(run.seqs == [1, 2, 6, 7, 1, 2, 3], "held packets are handled before the new session starts")
        #expect(
            run.drainEvents().contains(
                .sessionChanged(
                    old: SessionKey("GAPS")!, new: SessionKey("GAPS2")!,
                    sequence: 1, reason: .ended)))
        // A late copy from the old session (the slower line) must not reset the new one.
        run.feed(day1.endOfSession(next: 1000), at: 50)
        run.feed(packet(2, 1), at: 50)
        #expect(run.processor.counters.staleSessionPackets.load == 2)
        #expect(run.processor.expected == 4 && !run.processor.hasOpenGap)
    }

    @Test func aNewSessionWithoutEndOfSessionIsBelievedWhenTheOldFallsSilent() {
        var policy = FeedHarness.policy(server: true)
        policy.confirmPackets = 4
        var run = FeedHarness(policy: policy)
        for s in UInt64(1)...5 { run.feed(packet(s, 1), at: s) }
        for s in UInt64(1)...3 { run.feed(packet(s, 1, day2), at: 100 + s) }
        run.feed(packet(5, 1), at: 104, line: 1)  // the old session's slower line: a copy, not a sign of life
        #expect(run.processor.counters.sessionChanges.load == 0)
        run.feed(packet(4, 1, day2), at: 105)
        #expect(run.processor.counters.sessionChanges.load == 1)
        #expect(run.seqs == [1, 2, 3, 4, 5, 1, 2, 3, 4])
        #expect(
            run.drainEvents().contains(
                .sessionChanged(
                    old: SessionKey("GAPS")!, new: SessionKey("GAPS2")!,
                    sequence: 1, reason: .persisted)))
    }

    @Test func aPinnedSessionIsTheOnlyOneBelieved() {
        var policy = FeedHarness.policy(server: true)
        policy.pinnedSession = SessionKey("GAPS2")
        var run = FeedHarness(policy: policy)
        for s in UInt64(1)...10 { run.feed(packet(s, 1), at: s) }  // a whole run of another session first
        #expect(run.seqs.isEmpty && run.processor.currentSession == nil)
        for s in UInt64(1)...3 { run.feed(packet(s, 1, day2), at: 20 + s) }
        #expect(run.seqs == [1, 2, 3] && run.processor.currentSession == SessionKey("GAPS2"))
        #expect(run.processor.counters.foreignSessionPackets.load == 10)
    }

    @Test func oneWildSequenceNumberIsQuarantinedNotALoss() {
        for wild in [UInt64(1_000_000_000), 1_000_000_000_000] {
            var run = FeedHarness(policy: FeedHarness.policy(server: true))
            var now: UInt64 = 0
            for s in UInt64(1)...30 {
                run.feed(packet(s, 1), at: now)
                if s == 10 { run.feed(packet(wild, 3), at: now) }
                now += 1_000
                run.poll(now)
            }
            #expect(run.seqs == Array(1...30))
            #expect(run.gaps.isEmpty && run.requests.sent.isEmpty, "no range was opened, asked for or lost")
            #expect(run.drainEvents().contains(.implausibleSequence(sequence: wild, frontier: 11)))
            run.finish(now)
            #expect(run.gaps.isEmpty && run.seqs == Array(1...30), "its messages are never emitted")
            #expect(run.processor.counters.implausiblePackets.load == 1)
        }
    }

    @Test func aRealJumpIsConfirmedByTheLinesAndItsGapReportedExactly() {
        var run = FeedHarness(policy: FeedHarness.policy(server: false))
        for s in UInt64(1)...5 { run.feed(packet(s, 1), at: s) }
        // The feed resumes a billion messages on (a long outage), packets continuing one another.
        let resume: UInt64 = 1_000_000_006
        for i in UInt64(0)..<3 { run.feed(packet(resume + i * 2, 2), at: 10 + i) }
        run.poll(10_000)
        #expect(run.gaps == [6...(resume - 1)])
        #expect(run.seqs == Array(1...5) + Array(resume..<(resume + 6)))
        #expect(run.drainEvents().contains(.jumpConfirmed(from: 6, to: resume + 6)))
    }

    @Test func aJumpWithinWhatTheFeedCanCarryIsBelievedAtOnce() {
        var policy = FeedHarness.policy(server: false, confirm: 1)
        policy.maxMessagesPerSecond = 1_000_000
        var run = FeedHarness(policy: policy)
        run.feed(packet(1, 1), at: 1_000_000_000)
        // Two seconds of silence: up to 2 M messages may have gone by.
        run.feed(packet(1_500_000, 1), at: 3_000_000_000)
        run.poll(3_000_002_000)
        #expect(run.gaps == [2...1_499_999])
    }

    @Test func aStrayEndOfSessionDoesNotEndTheDay() {
        var run = FeedHarness(policy: FeedHarness.policy(server: false))
        for s in UInt64(1)...5 { run.feed(packet(s, 1), at: s * 10) }
        run.feed(day1.endOfSession(next: 3), at: 55)  // contradicted by what was seen
        run.feed(day1.endOfSession(next: 9), at: 56)  // ahead of the frontier, said once
        #expect(!run.processor.sessionEnded)
        for s in UInt64(6)...12 { run.feed(packet(s, 1), at: 60 + s) }
        #expect(run.seqs == Array(1...12), "the day goes on")
        run.feed(day1.endOfSession(next: 13), at: 100)
        #expect(run.processor.sessionEnded && run.processor.endSequence == 13)
        run.feed(packet(13, 2), at: 110)
        #expect(run.seqs == Array(1...12), "beyond the announced end is not data")
        #expect(run.processor.counters.beyondEndPackets.load == 1)
    }

    @Test func garbageSequenceNumbersAreMalformed() {
        var run = FeedHarness(policy: FeedHarness.policy(server: false, confirm: 1))
        run.feed(packet(1, 1), at: 0)
        run.feed(packet(0, 1), at: 1)
        run.feed(packet(UInt64.max - 1, 3), at: 2)  // would wrap past 2^64
        run.feed(day1.heartbeat(next: UInt64.max), at: 3)
        #expect(run.processor.counters.malformedPackets.load == 3)
        #expect(run.seqs == [1] && run.gaps.isEmpty && !run.processor.hasOpenGap)
    }
}
