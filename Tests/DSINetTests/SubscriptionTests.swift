import DSICore
import DSIFeeds
import DSINet
import DSITestSupport
import Foundation
import Testing

/// Subscriptions on the publisher: each subscriber gets what it asked for and nothing else, images first, and can
/// tell from the topic sequences that it missed nothing; refused requests get an error and leave the session alive.
@Suite(.serialized) struct SubscriptionTests {
    /// A day in miniature: five symbols, every kind, market-wide status and a loss report.
    static func stream(count: Int, seed: UInt64 = 1) -> [Tick] {
        var random = SplitMix64(seed: seed)
        var ticks: [Tick] = []
        for i in 0..<count {
            let locate = UInt16(1 + random.next() % 5)
            let roll = random.next() % 100
            var t: Tick
            switch roll {
            case 0..<40:
                t = Tick(kind: .quote)
                t.bidPrice = UInt32(1000 + i); t.askPrice = UInt32(1010 + i); t.bidSize = 100; t.askSize = UInt64(i)
            case 40..<80:
                t = Tick(kind: .trade)
                t.price = UInt32(1005 + i); t.shares = 10; t.matchNumber = UInt64(i)
            case 80..<85:
                t = Tick(kind: .tradeBreak)
                t.matchNumber = UInt64(i)
            case 85..<95:
                t = Tick(kind: .status)
                t.statusType = [UInt8(ascii: "H"), UInt8(ascii: "Y")][Int(random.next() % 2)]
                t.statusCode = UInt8(ascii: "T")
            case 95..<98:
                t = Tick(kind: .status)
                t.statusType = UInt8(ascii: "S"); t.statusCode = UInt8(ascii: "Q")
            default:
                t = Tick(kind: .status)
                t.statusType = Tick.gapStatusType; t.gapFirst = UInt64(i); t.gapLast = UInt64(i + 1)
            }
            if !(t.kind == .status && (t.statusType == UInt8(ascii: "S") || t.isIntegrityReport)) {
                t.stockLocate = locate
                t.stock = Symbol("SYM\(locate)")
            }
            t.seq = UInt64(i + 1)
            ticks.append(t)
        }
        return ticks
    }

    /// The stream as the publisher numbers it.
    static func numbered(_ ticks: [Tick]) -> [Tick] {
        let topics = TopicSequencer()
        return ticks.enumerated().map { i, tick in
            var t = tick
            t.streamSeq = UInt64(i + 1)
            topics.number(&t)
            return t
        }
    }

    /// Reads until `count` updates (not images) arrived; returns images and updates.
    func collect(_ s: TLSSubscriber, updates count: Int) throws -> (images: [Tick], updates: [Tick]) {
        var images: [Tick] = [], updates: [Tick] = []
        let deadline = Clock.monotonicNanos() + 20_000_000_000
        while updates.count < count && Clock.monotonicNanos() < deadline {
            guard case .tick(let t)? = try s.nextFrame() else { continue }
            if t.flags & Tick.Flags.image != 0 { images.append(t) } else { updates.append(t) }
        }
        return (images, updates)
    }

    /// Where two tick lists first differ, in words (nil when equal): short enough to read in a failure.
    func difference(_ got: [Tick], _ expected: [Tick]) -> String? {
        if let i = zip(got, expected).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
            return "tick \(i): got \(got[i].jsonLine), expected \(expected[i].jsonLine)"
        }
        return got.count == expected.count ? nil : "got \(got.count) ticks, expected \(expected.count)"
    }

    func connect(_ harness: PublisherHarness, _ encoding: PublishProtocol.Encoding = .binary) throws -> TLSSubscriber {
        var o = harness.subscriberOptions()
        o.encoding = encoding
        return try TLSSubscriber(o)
    }

    /// Reads until the subscription is acknowledged (before any tick is published, so nothing else is skipped).
    func awaitAck(_ s: TLSSubscriber) throws {
        let deadline = Clock.monotonicNanos() + 10_000_000_000
        while Clock.monotonicNanos() < deadline { if case .subscribed? = try s.nextFrame() { return } }
        Issue.record("no subscribed frame")
    }

    @Test func eachSubscriberGetsItsSelectionInEveryEncoding() throws {
        let harness = try PublisherHarness()
        harness.start()
        defer { harness.finish() }
        let selections: [(TickSelection, PublishProtocol.Encoding)] = [
            (.all, .binary), (TickSelection(symbols: ["SYM1"], kinds: .all), .json),
            (TickSelection(symbols: ["SYM2", "SYM3"], kinds: [.trade, .tradeBreak]), .protobuf),
            (TickSelection(symbols: nil, kinds: .quote), .binary),
            (TickSelection(everySymbol: .trade, symbols: [Symbol("SYM4").raw: [.quote]]), .json),
            (TickSelection(symbols: ["NOPE"], kinds: .all), .binary),
        ]
        var subscribers: [TLSSubscriber] = []
        for (selection, encoding) in selections {
            let s = try connect(harness, encoding)
            try s.subscribe(selection)
            subscribers.append(s)
        }
        for s in subscribers { try awaitAck(s) }
        let raw = Self.stream(count: 3_000)
        harness.publish(raw)
        let all = Self.numbered(raw)
        for (s, (selection, encoding)) in zip(subscribers, selections) {
            let expected = all.filter { selection.admits($0) }
            let got = try collect(s, updates: expected.count)
            #expect(got.images.isEmpty, "nothing to image before the first tick")
            #expect(difference(got.updates, expected) == nil, "\(encoding.name): \(difference(got.updates, expected) ?? "")")
            #expect(s.ticksMissed == 0)
        }
        let unknown = all.filter { selections[5].0.admits($0) }
        #expect(
            !unknown.isEmpty && unknown.allSatisfy { $0.stockLocate == 0 }, "an unknown symbol: only market-wide ticks")
    }

    /// A subscriber that arrives late gets the latest tick of each of its topics as an image, then every update:
    /// nothing lost or doubled between the two.
    @Test func aLateSubscriberGetsImagesThenEveryUpdate() throws {
        let harness = try PublisherHarness()
        harness.start()
        defer { harness.finish() }
        let raw = Self.stream(count: 4_000, seed: 7)
        let all = Self.numbered(raw)
        harness.publish(Array(raw[..<2_500]))
        try harness.waitForPublished(2_500)
        let selection = TickSelection(symbols: ["SYM1", "SYM2"], kinds: [.quote, .trade, .status])
        let s = try connect(harness)
        try s.subscribe(selection)
        // The subscribed frame says where updates start.
        var first: UInt64 = 0
        while first == 0 { if case .subscribed(let a)? = try s.nextFrame() { first = a.firstStreamSeq } }
        #expect(first == 2_501)
        harness.publish(Array(raw[2_500...]))
        let expected = all[2_500...].filter { selection.admits($0) }
        let got = try collect(s, updates: expected.count)
        #expect(difference(got.updates, Array(expected)) == nil, "\(difference(got.updates, Array(expected)) ?? "")")
        // The image: for each topic of the selection, its latest tick before the subscription (status: per type).
        var latest: [String: Tick] = [:]
        for t in all[..<2_500] where selection.admits(t) {
            let key = t.kind == .status ? "\(Topic.index(of: t))/\(t.statusType)" : "\(Topic.index(of: t))"
            latest[key] = t
        }
        let expectedImages = latest.values.map { t -> Tick in
            var i = t
            i.flags = Tick.Flags.image
            return i
        }
        #expect(Set(got.images.map(\.jsonLine)) == Set(expectedImages.map(\.jsonLine)))
        #expect(got.images.count == expectedImages.count)
        #expect(s.ticksMissed == 0, "images set every topic's starting point")
        #expect(harness.publisher.imageTicksSent.load == UInt64(expectedImages.count))
    }

    @Test func unsubscribedTicksStopAndRefusalsLeaveTheSessionAlive() throws {
        var limits = SubscriberLimits()
        limits.maxSymbols = 3
        let harness = try PublisherHarness(subscriberLimits: limits)
        harness.start()
        defer { harness.finish() }
        let s = try connect(harness)
        func answer() throws -> ServerFrame {
            while true {
                switch try s.nextFrame() {
                case nil, .heartbeat?: continue
                case let f?: return f
                }
            }
        }
        try s.send(.subscribe(request: 1, kinds: [], symbols: nil))
        #expect(try answer() == .error(code: 17, request: 1, reason: "a request must name at least one kind"))
        try s.send(.subscribe(request: 2, kinds: .all, symbols: ["A", "B", "C", "D"].map { Symbol($0).raw }))
        guard case .error(6, 2, let reason) = try answer() else { Issue.record("no tooManySymbols"); return }
        #expect(reason.contains("4 symbols") && reason.contains("may hold 3"))
        try s.send(.resume(request: 3, after: 99, kinds: .all, symbols: nil))
        guard case .error(9, 3, let ahead) = try answer() else { Issue.record("no resumeUnavailable"); return }
        #expect(ahead.contains("ahead of the stream"))
        try s.send(.subscribe(request: 4, kinds: .all, symbols: [Symbol("SYM1").raw]))
        guard case .subscribed(let ack) = try answer() else { Issue.record("no ack"); return }
        #expect(ack.request == 4 && ack.firstStreamSeq == 1)
        try s.send(.resume(request: 5, after: 0, kinds: .all, symbols: nil))
        guard case .error(10, 5, _) = try answer() else { Issue.record("no resumeNotFirst"); return }
        try s.send(.unsubscribe(request: 6, kinds: [.trade, .quote, .tradeBreak], symbols: [Symbol("SYM1").raw]))
        guard case .subscribed(let unack) = try answer() else { Issue.record("no unsubscribe ack"); return }
        #expect(unack.request == 6)
        let raw = Self.stream(count: 2_000, seed: 3)
        harness.publish(raw)
        let expected = Self.numbered(raw).filter { TickSelection(symbols: ["SYM1"], kinds: .status).admits($0) }
        let got = try collect(s, updates: expected.count)
        #expect(
            difference(got.updates, expected) == nil, "only SYM1's status is left: \(difference(got.updates, expected) ?? "")")
        #expect(harness.publisher.requestsRefused.load == 4)
        #expect(harness.publisher.subscribers.load == 1)
    }
}
