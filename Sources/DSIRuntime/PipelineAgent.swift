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
    var lostLog: LostGapLog
    static let batch = 64

    init(receivers: [MulticastReceiver], recovery: RecoveryClient?, ingest: SPSCRing, processor: FeedProcessor,
         sink: FanOutSink, lostLog: LostGapLog) {
        self.receivers = receivers
        self.recovery = recovery
        self.ingest = ingest
        self.processor = processor
        self.sink = sink
        self.lostLog = lostLog
    }

    public mutating func doWork() throws -> Int {
        var work = 0
        for receiver in receivers { work += try receiver.receive(into: ingest) }
        if let recovery { work += try recovery.receive(into: ingest) }
        let ready = ingest.readySlots(limit: Self.batch)
        let now = ready > 0 || processor.hasOpenGap ? Clock.realtimeNanos() : 0  // one clock read per batch
        for i in 0..<ready {
            let slot = ingest.consumerSlot(i)
            processor.process(packet: PacketSlot.payload(slot), length: PacketSlot.length(slot),
                              receiveTime: PacketSlot.receiveTime(slot), line: PacketSlot.line(slot), now: now, sink: &sink)
        }
        if ready > 0 { ingest.release(ready) }
        // Only a caught-up pipeline judges a gap: while packets wait in a socket or in the ring, the other line's copy
        // may be among them, however long the gap has been open.
        if processor.hasOpenGap && work == 0 && ingest.readySlots(limit: 1) == 0 {
            if let recovery {
                var requester = RecoveryRequests(client: recovery)
                processor.poll(now: now, requester: &requester, sink: &sink)
            } else {
                var none = NoRecovery()
                processor.poll(now: now, requester: &none, sink: &sink)
            }
        }
        lostLog.note(processor.lastLost, counters: processor.counters)
        return work + ready
    }

    /// On stop: what a gap still holds is handled, and the gap reported lost (it can no longer be filled).
    public mutating func onClose() {
        processor.finish(now: Clock.realtimeNanos(), sink: &sink)
        lostLog.note(processor.lastLost, counters: processor.counters)
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
        client.request(sessionHigh: session.high, sessionLow: session.low, first: first, count: count)
    }
}
