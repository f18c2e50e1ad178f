import DSICore
import DSIFeeds
import DSINet

/// Line sockets → ingest ring → arbitration, decode, books, ticks → publish ring, fused on one worker.
///
/// The ingest ring is where `recvmmsg` writes: its slots are the receive buffers, so a datagram is never copied before
/// the decoder reads it in place.
public struct PipelineAgent: Agent {
    let receivers: [MulticastReceiver]
    let ingest: SPSCRing
    public var processor: FeedProcessor
    var sink: TickRingSink
    static let batch = 64

    init(receivers: [MulticastReceiver], ingest: SPSCRing, processor: FeedProcessor, sink: TickRingSink) {
        self.receivers = receivers
        self.ingest = ingest
        self.processor = processor
        self.sink = sink
    }

    public mutating func doWork() throws -> Int {
        var work = 0
        for receiver in receivers { work += try receiver.receive(into: ingest) }
        let ready = ingest.readySlots(limit: Self.batch)
        for i in 0..<ready {
            let slot = ingest.consumerSlot(i)
            processor.process(packet: PacketSlot.payload(slot), length: PacketSlot.length(slot),
                              receiveTime: PacketSlot.receiveTime(slot), sink: &sink)
        }
        if ready > 0 { ingest.release(ready) }
        return work + ready
    }
}

/// The publisher's worker: drains the publish ring to the TLS sessions and runs the libuv loop.
struct PublisherAgent: Agent {
    let publisher: TLSPublisher
    let ring: SPSCRing

    mutating func doWork() throws -> Int { publisher.poll(ring: ring) }

    mutating func onClose() { publisher.finish(ring: ring) }
}
