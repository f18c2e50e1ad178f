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

/// The publisher's worker: drains the publish ring to the TLS sessions and runs the libuv loop.
struct PublisherAgent: Agent {
    let publisher: TLSPublisher
    let ring: SPSCRing
    /// The graph's filters placed on the publisher's worker (before the stream is numbered).
    var gate: CountingGate

    mutating func doWork() throws -> Int { publisher.poll(ring: ring, gate: &gate) }

    mutating func onClose() { publisher.finish(ring: ring, gate: &gate) }
}

/// A filter as the publisher's gate, counting what it holds back.
struct CountingGate: TickGate {
    var filter: TickFilter
    let filtered: Counter
    mutating func admit(_ tick: Tick) -> Bool {
        if filter.admit(tick) { return true }
        filtered.add()
        return false
    }
}

/// The feed processor's re-requests, sent through the runtime's UDP client.
struct RecoveryRequests: RecoveryRequester {
    let client: RecoveryClient
    func request(session: SessionKey, first: UInt64, count: UInt16) {
        client.request(session: session, first: first, count: count)
    }
}
