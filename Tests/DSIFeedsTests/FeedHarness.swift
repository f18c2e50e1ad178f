import DSICore
import DSIFeeds

/// A feed processor driven by hand in tests: packets of one message per sequence number (a system event carrying the
/// sequence as its timestamp, so every handled message is a status tick naming its number), a fake clock, a recording
/// requester.
struct FeedHarness {
    struct Requests: RecoveryRequester {
        var sent: [(first: UInt64, count: UInt16)] = []
        mutating func request(session: SessionKey, first: UInt64, count: UInt16) { sent.append((first, count)) }
    }

    var processor: FeedProcessor
    var sink = CollectingSink()
    var requests = Requests()

    init(policy: RecoveryPolicy) {
        processor = FeedProcessor(expectedOrders: 64, policy: policy)
    }

    static let builder = MoldUDP64Builder(session: "GAPS")

    /// A packet of `count` messages from `first` in `session`.
    static func packet(_ first: UInt64, _ count: Int, session: MoldUDP64Builder = builder) -> [UInt8] {
        session.packet(
            first: first,
            messages: (0..<count).map { i in
                try! ITCHEncoder.message("S", locate: 0, timestamp: (first &+ UInt64(i)) & 0xFFFF_FFFF_FFFF, ["Q"])
            })
    }

    /// A recovery policy with nanosecond-scale waits for a fake clock; `confirm` packets confirm a session or a jump
    /// (the first session too).
    static func policy(server: Bool, confirm: Int = 3) -> RecoveryPolicy {
        var p = RecoveryPolicy()
        p.confirmPackets = confirm
        p.hasServer = server
        p.lineWaitNanos = 1_000
        p.requestTimeoutNanos = 10_000
        p.maxRetries = 2
        return p
    }

    mutating func feed(_ bytes: [UInt8], at time: UInt64, line: Int = 0) {
        bytes.withUnsafeBytes {
            processor.process(packet: $0.baseAddress!, length: $0.count, receiveTime: time, line: line, sink: &sink)
        }
    }

    mutating func poll(_ now: UInt64, caughtUp: Bool = true) {
        processor.poll(now: now, caughtUp: caughtUp, requester: &requests, sink: &sink)
    }

    mutating func finish(_ now: UInt64) { processor.finish(now: now, sink: &sink) }

    /// Sequence numbers of the messages handled, in the order they were.
    var seqs: [UInt64] {
        sink.ticks.filter { $0.statusType != Tick.gapStatusType && $0.statusType != Tick.joinStatusType }.map(\.seq)
    }
    /// Lost ranges reported, in order.
    var gaps: [ClosedRange<UInt64>] {
        sink.ticks.filter { $0.statusType == Tick.gapStatusType }.map { $0.gapFirst...$0.gapLast }
    }
    /// Every sequence number reported lost.
    var lost: [UInt64] { gaps.flatMap { Array($0) } }
    /// Where join ticks said the stream starts.
    var joins: [UInt64] { sink.ticks.filter { $0.statusType == Tick.joinStatusType }.map(\.gapFirst) }

    /// Every event queued so far.
    mutating func drainEvents() -> [FeedEvent] {
        var out: [FeedEvent] = []
        while let e = processor.events.pop() { out.append(e) }
        return out
    }
}
