import Atomics
import DSICore
import DSIFeeds
import DSINet
import Foundation

/// A `nats` node at run time: its client, and a ring from each worker whose feeds reach it.
struct NATSBranch {
    let layout: ProcessingGraph.Branch
    let settings: NATSSettings
    let client: NATSClient
    let rings: [(worker: String, ring: SPSCRing)]
    let consumerGone = ManagedAtomic<Bool>(false)
    /// Ticks its filters on its own worker held back.
    let filtered = Counter()
    /// Ticks it numbered and handed to the client.
    let published = Counter()

    var name: String { layout.publish }
    func ring(from worker: String) -> SPSCRing? { rings.first { $0.worker == worker }?.ring }
}

/// A `nats` node on its worker: drains its rings, numbers the stream as a publisher does (gap-free `streamSeq`,
/// `topicSeq` per feed, symbol and kind), and publishes each tick on `PREFIX.FEED.KIND.SYMBOL`. A publish the client
/// cannot take now (reconnecting with its buffer full, too many JetStream publishes unacknowledged) leaves the tick in
/// the ring for the next cycle: the ring fills, and the feed's side applies DSI's back-pressure rule (block or drop,
/// counted). The pipeline's thread never waits on the network.
struct NATSAgent: Agent {
    let name: String
    let client: NATSClient
    let rings: [SPSCRing]
    var gate: FeedGate
    let settings: NATSSettings
    let published: Counter
    private var next: UInt64 = 1
    private var topics: [UInt64: TopicSequencer] = [:]
    private var subjects: [SubjectKey: [CChar]] = [:]
    private var payload = [UInt8](repeating: 0, count: Tick.wireSize)
    /// Message ids for JetStream's duplicate window: unique in this run, the same when a publish is sent again.
    private let idPrefix = "\(ProcessInfo.processInfo.processIdentifier)-\(Clock.realtimeNanos())-"
    private var messageID = [CChar](repeating: 0, count: 64)
    static let batch = 256

    struct SubjectKey: Hashable {
        let feed: UInt64
        let stock: UInt64
        let kind: UInt8
    }

    init(branch: NATSBranch, gate: FeedGate) {
        name = branch.name
        client = branch.client
        rings = branch.rings.map(\.ring)
        self.gate = gate
        settings = branch.settings
        published = branch.published
    }

    mutating func doWork() throws -> Int {
        if client.jetstream { client.resend() }
        var work = 0
        for ring in rings {
            let ready = ring.readySlots(limit: Self.batch)
            var done = 0
            while done < ready {
                var tick = ring.consumerSlot(done).load(as: Tick.self)
                if gate.admit(tick) {
                    number(&tick)
                    guard try send(tick) else {
                        // Not now: this tick stays first in the ring, numbered again when it is sent.
                        next -= 1
                        topics[tick.feed.raw]!.unnumber(tick)
                        break
                    }
                    published.add()
                }
                done += 1
            }
            if done > 0 { ring.release(done) }
            work += done
        }
        return work
    }

    /// Sends what the rings still hold, then waits (at most 10 s) for the cluster to have it all.
    mutating func onClose() {
        let deadline = Clock.monotonicNanos() + 10_000_000_000
        while rings.contains(where: { $0.count > 0 }) && Clock.monotonicNanos() < deadline {
            if (try? doWork()) == 0 { Clock.sleep(nanos: 1_000_000) }
        }
        _ = client.flush(timeoutMillis: 10_000)
    }

    private mutating func number(_ tick: inout Tick) {
        tick.streamSeq = next
        next += 1
        let sequencer = topics[tick.feed.raw] ?? TopicSequencer()
        topics[tick.feed.raw] = sequencer
        sequencer.number(&tick)
    }

    /// Whether the client took it.
    private mutating func send(_ tick: Tick) throws -> Bool {
        let key = SubjectKey(feed: tick.feed.raw, stock: tick.stockLocate == 0 ? 0 : tick.stock.raw, kind: tick.kind.rawValue)
        if subjects[key] == nil { subjects[key] = Array(Self.subject(for: tick, prefix: settings.subjectPrefix).utf8CString) }
        var id: UnsafePointer<CChar>? = nil
        if client.jetstream {
            let text = idPrefix + String(tick.streamSeq)
            _ = text.utf8CString.withUnsafeBufferPointer { memcpy(&messageID, $0.baseAddress!, min($0.count, 63)) }
            messageID[63] = 0
        }
        let outcome: NATSClient.Outcome = try subjects[key]!.withUnsafeBufferPointer { subject in
            try messageID.withUnsafeBufferPointer { idBuffer in
                if client.jetstream { id = idBuffer.baseAddress }
                switch settings.encoding {
                case .binary:
                    payload.withUnsafeMutableBytes { tick.write(to: $0.baseAddress!) }
                    return try payload.withUnsafeBytes {
                        try client.publish(subject: subject.baseAddress!, $0, messageID: id)
                    }
                case .json:
                    var line = tick.jsonLine
                    return try line.withUTF8 {
                        try client.publish(subject: subject.baseAddress!, UnsafeRawBufferPointer($0), messageID: id)
                    }
                }
            }
        }
        return outcome == .taken
    }

    /// `PREFIX.FEED.KIND.SYMBOL`; `_` for a status tick without a symbol (and for an unnamed feed). Characters a
    /// subject token cannot hold (a dot, a space, a wildcard) become `_`.
    static func subject(for tick: Tick, prefix: String) -> String {
        func token(_ text: String) -> String {
            guard !text.isEmpty else { return "_" }
            return String(
                text.unicodeScalars.map {
                    $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == "_")
                        ? Character($0) : "_"
                })
        }
        let symbol = tick.stockLocate == 0 ? "" : tick.stock.description
        return "\(prefix).\(token(tick.feed.description)).\(tick.kind.name).\(token(symbol))"
    }
}
