// libFuzzer target: datagrams on two lines and from a re-request server, through the live sequencer and the books.
// Input: a policy byte, then records of [line u8][time step u16][length u16][datagram].
import DSICore
import DSIFeeds

struct Requests: RecoveryRequester {
    var sent = 0
    mutating func request(session: SessionKey, first: UInt64, count: UInt16) { sent += 1 }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let bytes = UnsafeRawPointer(data)
    var policy = RecoveryPolicy()
    let choice = bytes.byte(at: 0)
    policy.hasServer = choice & 1 != 0
    policy.lines = 2
    policy.lineWaitNanos = choice & 2 != 0 ? 0 : 5_000
    policy.confirmPackets = Int(choice >> 2 & 3) + 1
    policy.holdBytes = 16 * PendingPackets.slotSize
    policy.requestMessages = 4
    policy.join = [.first, .recover, .sequence(100)][Int(choice >> 4) % 3]
    var feed = FeedProcessor(expectedOrders: 256, policy: policy)
    var sink = CollectingSink()
    var requests = Requests()
    var offset = 1
    var now: UInt64 = 1_000_000_000
    while offset + 5 <= size {
        let line = Int(bytes.byte(at: offset))
        now &+= UInt64(bytes.bigEndianU16(at: offset + 1)) &* 1_000
        let length = min(Int(bytes.bigEndianU16(at: offset + 3)), size - offset - 5)
        feed.process(
            packet: bytes + offset + 5, length: length, receiveTime: now,
            line: line == 255 ? LineIndex.recovery : line % 3, sink: &sink)
        feed.poll(now: now, caughtUp: line & 1 == 0, requester: &requests, sink: &sink)
        while feed.events.pop() != nil {}
        offset += 5 + length
    }
    feed.finish(now: now, sink: &sink)
    _ = sink.ticks.map(\.jsonLine)
    return 0
}
