import DSICore
import DSIFeeds
import Testing

/// The sequencer against a hostile network, as a property: two lines that drop, duplicate and reorder packets, with
/// stray packets of another session, wild sequence numbers and stray end-of-session packets mixed in, and a re-request
/// server. Every genuine message is handled exactly once, in order, with its own content; nothing a stray carried is
/// handled; what is reported lost is exactly what no line and no reply delivered.
@Suite struct HostileNetworkTests {
    /// A message whose timestamp is `stamp`: genuine ones carry their sequence number, strays something else.
    static func packet(_ first: UInt64, _ count: Int, session: MoldUDP64Builder, stamp: (UInt64) -> UInt64) -> [UInt8] {
        session.packet(
            first: first,
            messages: (0..<count).map { i in
                try! ITCHEncoder.message("S", locate: 0, timestamp: stamp(first &+ UInt64(i)) & 0xFFFF_FFFF_FFFF, ["Q"])
            })
    }

    @Test(arguments: [true, false])
    func everyGenuineMessageOnceInOrderAndNoStrayContent(serverAlwaysAnswers: Bool) {
        let genuine = FeedHarness.builder
        let stranger = MoldUDP64Builder(session: "STRAY")
        var random = SplitMix64(seed: serverAlwaysAnswers ? 21 : 22)
        for trial in 0..<40 {
            var policy = FeedHarness.policy(server: true)
            policy.requestMessages = 4
            policy.maxRetries = serverAlwaysAnswers ? 3 : 1
            var run = FeedHarness(policy: policy)
            var now: UInt64 = 1_000_000
            var s: UInt64 = 1
            var delayed: [([UInt8], Int)] = []
            var strays = 0
            while s < 400 {
                let n = 1 + Int(random.next() % 4)
                let bytes = Self.packet(s, n, session: genuine) { $0 }
                for line in 0..<2 where random.next() % 10 >= 3 {
                    switch random.next() % 10 {
                    case 0: delayed.append((bytes, line))  // arrives later, out of order
                    case 1:
                        run.feed(bytes, at: now, line: line)
                        run.feed(bytes, at: now, line: line)  // duplicated by a switch
                    default: run.feed(bytes, at: now, line: line)
                    }
                }
                switch random.next() % 40 {
                case 0:
                    run.feed(Self.packet(1 + random.next() % 500, 2, session: stranger) { _ in 7 }, at: now)
                    strays += 1
                case 1:
                    let wild = [UInt64(1_000_000_000), 1_000_000_000_000, 1 << 61][Int(random.next() % 3)]
                    run.feed(Self.packet(wild + random.next() % 1000, 2, session: genuine) { _ in 7 }, at: now)
                    strays += 1
                case 2:
                    run.feed(genuine.endOfSession(next: s + 5 + random.next() % 50), at: now)  // a stray end
                default: break
                }
                if !delayed.isEmpty && random.next() % 3 == 0 {
                    let late = delayed.removeFirst()
                    run.feed(late.0, at: now, line: late.1)
                }
                s += UInt64(n)
                now += 2_000
                run.poll(now)
                while let (first, count) = run.requests.sent.first {
                    run.requests.sent.removeFirst()
                    if serverAlwaysAnswers || random.next() % 2 == 0 {
                        let reply = Int(min(UInt64(count), 1 + random.next() % 3))
                        run.feed(Self.packet(first, reply, session: genuine) { $0 }, at: now, line: LineIndex.recovery)
                    }
                }
            }
            for line in 0..<2 { run.feed(genuine.endOfSession(next: s), at: now, line: line) }
            for _ in 0..<400 {
                now += 20_000
                run.poll(now)
                while let (first, count) = run.requests.sent.first {
                    run.requests.sent.removeFirst()
                    if serverAlwaysAnswers {
                        run.feed(Self.packet(first, Int(count), session: genuine) { $0 }, at: now, line: LineIndex.recovery)
                    }
                }
            }
            run.finish(now)
            let handled = run.sink.ticks.filter { $0.statusType != Tick.gapStatusType && $0.statusType != Tick.joinStatusType }
            let start = run.processor.joinedAt ?? 1
            #expect(handled.allSatisfy { $0.timestamp == $0.seq }, "trial \(trial): nothing a stray carried was handled")
            let seqs = handled.map(\.seq)
            #expect(seqs == seqs.sorted() && Set(seqs).count == seqs.count, "trial \(trial): once each, in order")
            #expect(Set(seqs).isDisjoint(with: run.lost), "trial \(trial)")
            #expect(Set(seqs).union(run.lost) == Set(start..<s), "trial \(trial): every number handled or reported lost")
            if serverAlwaysAnswers { #expect(run.lost.isEmpty, "trial \(trial): a server that answers leaves no loss") }
            #expect(run.processor.counters.sessionChanges.load == 0, "trial \(trial)")
            let c = run.processor.counters
            #expect(c.foreignSessionPackets.load + c.implausiblePackets.load == UInt64(strays), "trial \(trial): strays counted")
        }
    }
}
