// libFuzzer target: a capture file, through everything `dsi decode` and `dsi ticks` do with it.
import DSICore
import DSIFeeds
import DSIPcap
import DSIRuntime
import DSITools

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
    let bytes = UnsafeBufferPointer(start: data, count: size)
    // Two readers of the same bytes: each command reads the file once.
    guard let forTicks = try? PcapReader(bytes: bytes, name: "fuzz"), let forDecode = try? PcapReader(bytes: bytes, name: "fuzz")
    else { return 0 }
    var policy = RecoveryPolicy.capture
    policy.holdBytes = 64 * PendingPackets.slotSize
    var ticks = FeedProcessor(expectedOrders: 1024, policy: policy)
    var decode = SequencedFeed(consumer: JSONConsumer(), counters: FeedCounters(), policy: policy)
    var sink = CollectingSink()
    // The event lines are made as the commands make them, then dropped.
    var sequencing = CaptureSequencing(command: "fuzz") { _ in }
    try? sequencing.run(reader: forTicks, feed: &ticks, sink: &sink)
    try? sequencing.run(reader: forDecode, feed: &decode, sink: &sink)
    _ = forTicks.summary
    _ = sink.ticks.map(\.jsonLine)
    return 0
}
