import DSICore
import DSINet
import DSITestSupport
import Foundation
import Testing

/// The journal on disk: what it keeps survives a reopen; a damaged, torn or truncated tail is found, reported and
/// never served; old days are pruned.
@Suite(.serialized) struct JournalTests {
    static let segment = 64 << 10  // 512 records a segment: the tests cross segments

    func ticks(_ n: Int, from first: UInt64 = 1) -> [Tick] {
        (0..<n).map { i in
            var t = Tick(kind: i % 3 == 0 ? .quote : .trade)
            t.streamSeq = first + UInt64(i)
            t.topicSeq = UInt64(i / 2 + 1)
            t.seq = 100 + UInt64(i)
            t.stock = Symbol("J\(i % 7)")
            t.stockLocate = UInt16(1 + i % 7)
            t.price = UInt32(i)
            t.bidSize = UInt64(i)
            return t
        }
    }

    func open(_ dir: TemporaryDirectory, into restored: inout [Tick]) throws -> Journal {
        var got: [Tick] = []
        let j = try Journal(directory: dir.path, day: 20_261_130, segmentBytes: Self.segment) { got.append($0) }
        restored = got
        return j
    }

    /// Writes `bytes` into the journal file at `offset`, as a disk or a person might.
    func damage(_ path: String, at offset: Int, _ bytes: [UInt8]) throws {
        let h = try #require(FileHandle(forUpdatingAtPath: path))
        try h.seek(toOffset: UInt64(offset))
        try h.write(contentsOf: Data(bytes))
        try h.close()
    }

    func recordOffset(_ streamSeq: Int) -> Int { Journal.headerSize + (streamSeq - 1) * Journal.recordSize }

    @Test func whatIsJournaledSurvivesAReopenAcrossSegments() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var restored: [Tick] = []
        let written = ticks(1_300)
        do {
            let j = try open(dir, into: &restored)
            #expect(restored.isEmpty && j.count == 0)
            for t in written { try j.append(t) }
            #expect(j.tick(777) == written[776])
        }
        let j = try open(dir, into: &restored)
        #expect(restored == written && j.count == 1_300 && j.damage == nil)
        var audited: [Tick] = []
        #expect(try Journal.audit(path: j.path) { audited.append($0) } == nil)
        #expect(audited == written)
    }

    @Test(arguments: [
        (
            "checksum", 700, 20, [UInt8(0xFF)],
            "record 700 fails its checksum: the journal ends at stream sequence 699; 600 records after it are discarded"
        ),
        ("torn", 1_300, 116, [UInt8(0)], "record 1300 is incomplete"),
        ("sequence", 5, 32, [UInt8(9)], "record 5 fails its checksum"),
    ])
    func aDamagedTailIsReportedAndNeverServed(what: String, record: Int, at: Int, bytes: [UInt8], says: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var restored: [Tick] = []
        let written = ticks(1_300)
        var path = ""
        do {
            let j = try open(dir, into: &restored)
            for t in written { try j.append(t) }
            path = j.path
        }
        try damage(path, at: recordOffset(record) + at, bytes)
        var audited: [Tick] = []
        let audit = try Journal.audit(path: path) { audited.append($0) }
        #expect(audit?.contains("record \(record)") == true, "\(what): \(audit ?? "nothing found")")
        #expect(audited == Array(written[..<(record - 1)]), "the audit stops at the damage")
        let j = try open(dir, into: &restored)
        #expect(j.damage?.contains(says) == true, "\(what): \(j.damage ?? "nothing found")")
        #expect(j.count == UInt64(record - 1) && restored == Array(written[..<(record - 1)]))
        // The stream goes on from the last good record; the damage is gone for good.
        for t in ticks(3, from: UInt64(record)) { try j.append(t) }
        let again = try open(dir, into: &restored)
        #expect(again.damage == nil && again.count == UInt64(record + 2))
    }

    @Test func aTruncatedOrForeignFileIsNamed() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var restored: [Tick] = []
        var path = ""
        do {
            let j = try open(dir, into: &restored)
            for t in ticks(600) { try j.append(t) }
            path = j.path
        }
        #expect(truncate(path, off_t(recordOffset(401))) == 0)
        do {
            let j = try open(dir, into: &restored)
            #expect(j.damage?.contains("truncated") == true && j.count == 400, "\(j.damage ?? "")")
        }
        // A segment size no journal has (found by the `journal` fuzzer: it trapped converting it).
        try damage(path, at: 24, [UInt8](repeating: 0xFF, count: 8))
        #expect(try Journal.audit(path: path) { _ in }?.contains("truncated") == true)
        #expect { try open(dir, into: &restored) } throws: { "\($0)".contains("has segments of 18446744073709551615 bytes") }
        try Data("not a journal at all".utf8).write(to: URL(fileURLWithPath: dir.file("20261129.dsij")))
        #expect { try Journal(directory: dir.path, day: 20_261_129) { _ in } } throws: {
            "\($0)".contains("20261129.dsij") && "\($0)".contains("not a DSI journal")
        }
    }

    @Test func oldDaysArePruned() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        for day: UInt32 in [20_261_120, 20_261_125, 20_261_127, 20_261_130] {
            _ = try Journal(directory: dir.path, day: day, segmentBytes: Self.segment) { _ in }
        }
        let removed = try Journal.prune(directory: dir.path, keep: 2, today: 20_261_130)
        #expect(Set(removed) == [dir.file("20261120.dsij"), dir.file("20261125.dsij")])
        #expect(FileManager.default.fileExists(atPath: dir.file("20261127.dsij")))
    }
}

/// Resuming from the publisher's journal: a subscriber that names the last sequence it has gets exactly the rest of
/// its selection, from the journal and then live, with no images; after a restart the numbering goes on.
@Suite(.serialized) struct ResumeTests {
    @Test func aResumeGetsTheRestThenLiveAndTheStreamOutlivesARestart() throws {
        let journal = try TemporaryDirectory()
        defer { journal.remove() }
        var options = TLSPublisher.JournalOptions(directory: journal.path)
        options.day = 20_261_130
        let raw = SubscriptionTests.stream(count: 3_000, seed: 5)
        let all = SubscriptionTests.numbered(raw)
        let selection = TickSelection(symbols: ["SYM2", "SYM3"], kinds: [.trade, .quote])
        do {
            let harness = try PublisherHarness(journal: options)
            harness.start()
            harness.publish(Array(raw[..<2_000]))
            try harness.waitForPublished(2_000)
            let s = try TLSSubscriber(harness.subscriberOptions())
            #expect(s.hello.day == 20_261_130 && s.hello.firstRetained == 1 && s.hello.nextStreamSeq == 2_001)
            let ack = try s.subscribe(selection, resumingAfter: 500)
            #expect(ack.firstStreamSeq == 501 && ack.flags == PublishProtocol.SubscribedFlags.resumed && ack.images == 0)
            harness.publish(Array(raw[2_000..<2_500]))
            let expected = all[500..<2_500].filter { selection.admits($0) }
            var got: [Tick] = []
            let deadline = Date().addingTimeInterval(20)
            while got.count < expected.count && Date() < deadline {
                if case .tick(let t)? = try s.nextFrame() { got.append(t) }
            }
            #expect(got == Array(expected), "the journal's part, then the live part, each tick once")
            #expect(harness.publisher.catchUpTicksSent.load > 0)
            harness.finish()
        }
        // A new publisher on the same journal: the stream continues at 2 501, topics and images with it.
        let harness = try PublisherHarness(journal: options)
        harness.start()
        defer { harness.finish() }
        #expect(harness.publisher.lastStreamSeq == 2_500)
        harness.publish(Array(raw[2_500...]))
        try harness.waitForPublished(500)
        let s = try TLSSubscriber(harness.subscriberOptions())
        try s.subscribe(selection, resumingAfter: 2_400)
        let expected = all[2_400...].filter { selection.admits($0) }
        var got: [Tick] = []
        let deadline = Date().addingTimeInterval(20)
        while got.count < expected.count && Date() < deadline {
            if case .tick(let t)? = try s.nextFrame() { got.append(t) }
        }
        #expect(got == Array(expected), "across the restart: same numbers, same topic sequences")
        #expect(s.ticksMissed == 0)
    }
}
