import DSICore
import DSIFeeds
import DSINet

/// Line sockets → ingest ring → arbitration, gap handling, decode, books, ticks → publish rings, fused on one worker.
///
/// The ingest ring is where `recvmmsg` writes: its slots are the receive buffers, so a datagram is never copied before
/// the decoder reads it in place. Replies from the re-request server arrive in the same ring.
public struct PipelineAgent: Agent {
    let receivers: [MulticastReceiver]
    let recovery: RecoveryClient?
    let ingest: SPSCRing
    public var processor: FeedProcessor
    var sink: FanOutSink
    var eventLog: FeedEventLog
    /// When recovery was last advanced and housekeeping last ran (wall and monotonic ns).
    var lastPoll: UInt64 = 0
    var lastHousekeeping: UInt64 = 0
    static let batch = 64
    /// Recovery timers need no finer grain than this (ns); polling every duty cycle would only cost.
    static let pollInterval: UInt64 = 100_000

    init(
        receivers: [MulticastReceiver], recovery: RecoveryClient?, ingest: SPSCRing, processor: FeedProcessor,
        sink: FanOutSink, eventLog: FeedEventLog
    ) {
        self.receivers = receivers
        self.recovery = recovery
        self.ingest = ingest
        self.processor = processor
        self.sink = sink
        self.eventLog = eventLog
    }

    public mutating func doWork() throws -> Int {
        var received = 0
        for receiver in receivers { received += try receiver.receive(into: ingest) }
        if let recovery { received += try recovery.receive(into: ingest) }
        let ready = ingest.readySlots(limit: Self.batch)
        for i in 0..<ready {
            let slot = ingest.consumerSlot(i)
            processor.process(
                packet: PacketSlot.payload(slot), length: PacketSlot.length(slot),
                receiveTime: PacketSlot.receiveTime(slot), line: PacketSlot.line(slot), sink: &sink)
        }
        if ready > 0 { ingest.release(ready) }
        // Recovery runs whether or not the pipeline keeps up: while it runs behind, its deadlines follow the stream's
        // own clock, so a copy still queued on the other line is not given up, and yet nothing waits for idleness.
        // The clock is read only while something waits: a feed with nothing missing pays no clock read per batch.
        if processor.hasOpenGap || processor.hasHeldApart {
            let now = Clock.realtimeNanos()
            if now &- lastPoll >= Self.pollInterval {
                lastPoll = now
                poll(now: now, caughtUp: received == 0 && ingest.readySlots(limit: 1) == 0)
            }
        }
        eventLog.drain(&processor)
        if ready == 0 { housekeeping() }
        return received + ready
    }

    /// Advances recovery and the quarantine (re-requests go through the feed's client, when it has one).
    mutating func poll(now: UInt64, caughtUp: Bool) {
        if let recovery {
            var requester = RecoveryRequests(client: recovery)
            processor.poll(now: now, caughtUp: caughtUp, requester: &requester, sink: &sink)
        } else {
            var none = NoRecovery()
            processor.poll(now: now, caughtUp: caughtUp, requester: &none, sink: &sink)
        }
    }

    /// Log summaries and recovery progress, at most once a second (only when idle: it reads a clock).
    mutating func housekeeping() {
        let monotonic = Clock.monotonicNanos()
        guard monotonic &- lastHousekeeping >= 1_000_000_000 else { return }
        lastHousekeeping = monotonic
        eventLog.housekeeping(processor, now: monotonic)
    }

    /// On stop: what a gap still holds is handled, and the gap reported lost (it can no longer be filled).
    public mutating func onClose() {
        processor.finish(now: Clock.realtimeNanos(), adoptUnconfirmed: false, sink: &sink)
        eventLog.drain(&processor)
    }
}

/// The publisher's worker: drains the publish rings (one per worker whose feeds reach it) to the TLS sessions and
/// runs the libuv loop.
struct PublisherAgent: Agent {
    /// The publish node's name.
    let name: String
    let publisher: TLSPublisher
    let rings: [SPSCRing]
    /// The graph's filters placed on the publisher's worker (before the stream is numbered).
    var gate: FeedGate

    mutating func doWork() throws -> Int { publisher.poll(rings: rings, gate: &gate) }

    mutating func onClose() { publisher.finish(rings: rings, gate: &gate) }
}

/// The filters of each feed's path on the publisher's worker as the publisher's gate, counting what they hold back.
/// Ticks say which feed they came from, so one gate serves every path into the publisher.
struct FeedGate: TickGate {
    /// By feed name (as ticks carry it); a feed not listed has no filter here.
    var filters: [(feed: UInt64, filter: TickFilter)]
    /// When every path has the same filter (always, with one feed): no lookup per tick.
    var common: TickFilter?
    let filtered: Counter

    init(_ paths: [(feed: Symbol, filter: TickFilter)], filtered: Counter) {
        filters = paths.map { ($0.feed.raw, $0.filter) }
        if paths.count == 1 {
            common = paths[0].filter
        } else {
            common = paths.allSatisfy { $0.filter.conditions.isEmpty } ? TickFilter() : nil
        }
        self.filtered = filtered
    }

    mutating func admit(_ tick: Tick) -> Bool {
        let admitted: Bool
        if common != nil {
            admitted = common!.admit(tick)
        } else if let i = filters.firstIndex(where: { $0.feed == tick.feed.raw }) {
            admitted = filters[i].filter.admit(tick)
        } else {
            admitted = true
        }
        if !admitted { filtered.add() }
        return admitted
    }
}

/// The feed processor's re-requests, sent through the runtime's UDP client.
struct RecoveryRequests: RecoveryRequester {
    let client: RecoveryClient
    func request(session: SessionKey, first: UInt64, count: UInt16) {
        client.request(session: session, first: first, count: count)
    }
}
