// libFuzzer target: a capture file, through everything `dsi decode` and `dsi ticks` do with it.
import DSICore
import DSIFeeds
import DSIPcap

/// Decodes every message to its JSON line, as `dsi decode` prints it.
struct JSONConsumer: MessageConsumer {
    var session = ""
    var bytes = 0
    mutating func handle<Sink: TickSink>(_ p: UnsafeRawPointer, length: Int, seq: UInt64, receiveTime: UInt64, sink: inout Sink) {
        bytes &+= ITCHJSON.line(session: session, seq: seq, message: p, length: length)?.utf8.count ?? 0
    }
    mutating func sessionBegins(_ name: String, isFirst: Bool) { session = name }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let reader = try? PcapReader(bytes: UnsafeBufferPointer(start: data, count: size), name: "fuzz") else { return 0 }
    var policy = RecoveryPolicy.capture
    policy.holdBytes = 64 * PendingPackets.slotSize
    var ticks = FeedProcessor(expectedOrders: 1024, policy: policy)
    var decode = SequencedFeed(consumer: JSONConsumer(), counters: FeedCounters(), policy: policy)
    var sink = CollectingSink()
    var last: UInt64 = 0
    try? reader.forEachDatagram { datagram in
        guard let base = datagram.payload.baseAddress else { return }
        ticks.process(packet: base, length: datagram.payload.count, receiveTime: datagram.time, sink: &sink)
        decode.process(packet: base, length: datagram.payload.count, receiveTime: datagram.time, sink: &sink)
        while ticks.events.pop() != nil {}
        last = max(last, datagram.time)
    }
    ticks.finish(now: last, sink: &sink)
    decode.finish(now: last, sink: &sink)
    _ = reader.summary
    _ = sink.ticks.map(\.jsonLine)
    return 0
}
