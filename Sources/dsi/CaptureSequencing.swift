import DSICore
import DSIFeeds
import DSIPcap

/// Runs a capture through a sequenced feed the way the live pipeline would (A/B copies merged, gaps waited for until
/// the file ends, strays held apart), for `dsi decode` and `dsi ticks`. What the sequencer reports (where the capture
/// joins its session, session changes, quarantined packets, lost ranges) goes to stderr, a bounded number per kind.
struct CaptureSequencing {
    let command: String
    var printed = [Int](repeating: 0, count: FeedEvent.kinds)
    var held = [Int](repeating: 0, count: FeedEvent.kinds)
    static let perKind = 20

    init(command: String) { self.command = command }

    /// Feeds every datagram of `file` to `feed`, then finishes it (what is still missing is reported lost).
    /// - Returns: the reader, for its summary.
    mutating func run<C: MessageConsumer, S: TickSink>(file: String, feed: inout SequencedFeed<C>, sink: inout S) throws
        -> PcapReader
    {
        let reader = try PcapReader(path: file)
        var lastTime: UInt64 = 0
        try reader.forEachDatagram { datagram in
            guard let base = datagram.payload.baseAddress else { return }
            feed.process(packet: base, length: datagram.payload.count, receiveTime: datagram.time, sink: &sink)
            lastTime = max(lastTime, datagram.time)
            if !feed.events.isEmpty { report(&feed) }
        }
        feed.finish(now: lastTime, sink: &sink)
        report(&feed)
        for kind in held.indices where held[kind] > 0 {
            FileHandleStderr.write("\(command): \(held[kind]) more events like the ones above were not printed\n")
        }
        if feed.currentSession == nil {
            FileHandleStderr.write("\(command): no MoldUDP64 session found in \(file)\n")
        }
        return reader
    }

    mutating func report<C: MessageConsumer>(_ feed: inout SequencedFeed<C>) {
        while let event = feed.events.pop() {
            // Losses are printed on stdout too (decode's gap lines, the gap ticks); here they only count.
            if case .lost = event { continue }
            guard printed[event.kind] < Self.perKind else {
                held[event.kind] += 1
                continue
            }
            printed[event.kind] += 1
            FileHandleStderr.write("\(command): \(event.message(feed: "capture", counters: feed.counters))\n")
        }
    }
}
