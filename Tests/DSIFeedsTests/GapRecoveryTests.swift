import DSICore
import DSIFeeds
import Testing

/// The feed processor's gap path with a fake clock and a recording requester.
@Suite struct GapRecoveryTests {
    struct Requests: RecoveryRequester {
        var sent: [(UInt64, UInt16)] = []
        mutating func request(session: SessionKey, first: UInt64, count: UInt16) { sent.append((first, count)) }
    }

    let builder = MoldUDP64Builder(session: "GAPS")
    func packet(_ first: UInt64, _ count: Int) -> [UInt8] {
        builder.packet(first: first, messages: (0..<count).map { i in try! ITCHEncoder.message("S", locate: 0, timestamp: first + UInt64(i), ["Q"]) })
    }

    func policy(server: Bool) -> RecoveryPolicy {
        var p = RecoveryPolicy()
        p.hasServer = server
        p.lineWaitNanos = 1_000
        p.requestTimeoutNanos = 10_000
        p.maxRetries = 2
        return p
    }

    struct Run {
        var processor: FeedProcessor
        var sink = CollectingSink()
        var requests = Requests()
        mutating func feed(_ bytes: [UInt8], at time: UInt64, line: Int = 0) {
            bytes.withUnsafeBytes { processor.process(packet: $0.baseAddress!, length: $0.count, receiveTime: time, line: line, sink: &sink) }
        }
        mutating func poll(_ now: UInt64) { processor.poll(now: now, requester: &requests, sink: &sink) }
        var seqs: [UInt64] { sink.ticks.filter { $0.statusType != Tick.gapStatusType }.map(\.seq) }
    }

    @Test func anotherLineFillsTheGapInOrder() {
        var run = Run(processor: FeedProcessor(expectedOrders: 64, policy: policy(server: true)))
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
        var run = Run(processor: FeedProcessor(expectedOrders: 64, policy: policy(server: true)))
        run.feed(packet(1, 1), at: 0)
        run.feed(packet(10, 1), at: 0)
        run.poll(500)
        #expect(run.requests.sent.isEmpty, "lines get lineWait first")
        run.poll(2_000)
        #expect(run.requests.sent.map(\.0) == [2] && run.requests.sent.map(\.1) == [8])
        run.feed(packet(2, 3), at: 2_100, line: LineIndex.recovery)  // a partial reply: 2...4
        run.poll(2_200)  // progress: ask for the rest at once
        #expect(run.requests.sent.map(\.0) == [2, 5] && run.requests.sent.last!.1 == 5)
        run.feed(packet(5, 5), at: 2_300, line: LineIndex.recovery)
        #expect(run.seqs == Array(1...10))
        #expect(run.processor.counters.recoveredMessages.load == 8)
        #expect(run.processor.counters.recoveryRequests.load == 2)
        #expect(!run.processor.hasOpenGap)
    }

    @Test func unrecoverableRangeIsReportedExactly() {
        var run = Run(processor: FeedProcessor(expectedOrders: 64, policy: policy(server: true)))
        run.feed(packet(1, 3), at: 0)
        run.feed(packet(8, 2), at: 0)
        var now: UInt64 = 2_000
        for _ in 0..<10 { run.poll(now); now += 20_000 }
        #expect(run.requests.sent.count == 2, "maxRetries requests, then give up")
        let gap = run.sink.ticks.first { $0.statusType == Tick.gapStatusType }
        #expect(gap?.gapFirst == 4 && gap?.gapLast == 7)
        #expect(run.seqs == [1, 2, 3, 8, 9], "what was held is handled after the loss is reported")
        #expect(run.processor.counters.lostMessages.load == 4 && run.processor.counters.lostGaps.load == 1)
        #expect(run.processor.lastLost == LostRange(first: 4, last: 7))
    }

    @Test func heartbeatRevealsGapOnIdleLine() {
        var run = Run(processor: FeedProcessor(expectedOrders: 64, policy: policy(server: false)))
        run.feed(packet(1, 1), at: 0)
        run.feed(builder.heartbeat(next: 6), at: 0)
        #expect(run.processor.hasOpenGap)
        run.poll(5_000)
        let gap = run.sink.ticks.last!
        #expect(gap.statusType == Tick.gapStatusType && gap.gapFirst == 2 && gap.gapLast == 5)
        #expect(!run.processor.hasOpenGap)
    }

    @Test func boundedHoldingGivesUpTheOldestGap() {
        var p = policy(server: true)
        p.maxPendingPackets = 4
        var run = Run(processor: FeedProcessor(expectedOrders: 64, policy: p))
        run.feed(packet(1, 1), at: 0)
        for s in stride(from: UInt64(3), through: 12, by: 1) { run.feed(packet(s, 1), at: 0) }
        #expect(run.processor.counters.lostMessages.load == 1, "seq 2 given up to make room")
        #expect(run.seqs == Array([1] + Array(3...12)))
    }

    @Test func sessionChangeReportsWhatWasOpenAndIgnoresTheOldSession() {
        var run = Run(processor: FeedProcessor(expectedOrders: 64, policy: policy(server: true)))
        run.feed(packet(1, 2), at: 0)
        run.feed(packet(6, 2), at: 0)  // 3...5 missing, 6...7 held
        let next = MoldUDP64Builder(session: "GAPS2")
        let day2 = next.packet(first: 1, messages: [try! ITCHEncoder.message("S", locate: 0, timestamp: 1, ["O"])])
        run.feed(day2, at: 10)
        let gap = run.sink.ticks.first { $0.statusType == Tick.gapStatusType }
        #expect(gap?.gapFirst == 3 && gap?.gapLast == 5, "the old day's hole is reported, not dropped")
        #expect(run.seqs == [1, 2, 6, 7, 1], "held packets are handled before the new session starts")
        #expect(run.processor.counters.sessionChanges.load == 1)
        // A late copy from the old session (the slower line) must not reset the new one.
        run.feed(builder.endOfSession(next: 1000), at: 20)
        run.feed(packet(2, 1), at: 20)
        #expect(run.processor.counters.staleSessionPackets.load == 2)
        #expect(run.processor.expected == 2 && !run.processor.hasOpenGap)
    }

    @Test func fullStoreGivesUpOnlyWhatLiesBeforeAnEarlierPacket() {
        var p = policy(server: true)
        p.maxPendingPackets = 3
        var run = Run(processor: FeedProcessor(expectedOrders: 64, policy: p))
        run.feed(packet(1, 1), at: 0)
        for s in [UInt64(10), 11, 12] { run.feed(packet(s, 1), at: 0) }  // store full: 10, 11, 12
        run.feed(packet(5, 2), at: 0)  // before everything held
        #expect(run.sink.ticks.first { $0.statusType == Tick.gapStatusType }.map { ($0.gapFirst, $0.gapLast) } ?? (0, 0) == (2, 4))
        #expect(run.seqs == [1, 5, 6], "the packet in hand is handled, not counted lost")
        #expect(run.processor.counters.lostMessages.load == 3)
        #expect(run.processor.hasOpenGap, "7...9 still missing")
    }

    /// Property: random drops, duplicates and reordering over two lines plus recovery of a random subset; every
    /// sequence number ends up handled exactly once or reported lost exactly once, and handled ones are in order.
    @Test func everyNumberHandledOnceOrReportedLost() {
        var random = SplitMix64(seed: 7)
        for trial in 0..<30 {
            var run = Run(processor: FeedProcessor(expectedOrders: 64, policy: policy(server: true)))
            var packets: [(UInt64, Int)] = []
            var s: UInt64 = 1
            while s < 300 { let n = 1 + Int(random.next() % 4); packets.append((s, n)); s += UInt64(n) }
            var now: UInt64 = 0
            for (first, count) in packets {
                for line in 0..<2 where random.next() % 10 >= 3 {  // each copy dropped with p = 0.3
                    run.feed(packet(first, count), at: now, line: line)
                }
                now += 300
                run.poll(now)
                // Answer some re-requests, like a server that is sometimes unreachable.
                while let (f, c) = run.requests.sent.first {
                    run.requests.sent.removeFirst()
                    if random.next() % 2 == 0 { run.feed(packet(f, Int(min(c, 3))), at: now, line: LineIndex.recovery) }
                }
            }
            run.feed(builder.endOfSession(next: s), at: now)
            for _ in 0..<50 { now += 20_000; run.poll(now) }
            let handled = run.seqs
            #expect(handled == handled.sorted(), "trial \(trial): in order")
            var lost: [UInt64] = []
            for t in run.sink.ticks where t.statusType == Tick.gapStatusType { lost += Array(t.gapFirst...t.gapLast) }
            #expect(Set(handled).isDisjoint(with: lost) && Set(handled).count == handled.count, "trial \(trial)")
            #expect((Set(handled).union(lost)) == Set(1..<s), "trial \(trial): nothing silently skipped")
            #expect(run.processor.counters.lostMessages.load == UInt64(lost.count))
        }
    }
}
