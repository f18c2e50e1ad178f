import DSICore
import DSIFeeds
import DSIPcap

/// Runs a capture through a sequenced feed the way the live pipeline would (A/B copies merged, gaps waited for until
/// the file ends, strays held apart): what `dsi decode` and `dsi ticks` do, and what the capture fuzzer and the
/// mutated-capture tests drive. What the sequencer reports (where the capture joins its session, session changes,
/// quarantined packets, lost ranges) goes to `note`, one line each, a bounded number per kind.
public struct CaptureSequencing {
    let command: String
    let note: (String) -> Void
    var printed = [Int](repeating: 0, count: FeedEvent.Kind.allCases.count)
    var held = [Int](repeating: 0, count: FeedEvent.Kind.allCases.count)
    static let perKind = 20
    /// Live progress for long captures (datagrams read).
    public var progress: ProgressLine? = nil

    /// - Parameters:
    ///   - command: what the lines start with (`dsi decode`).
    ///   - note: where each line goes (stderr, for the commands).
    public init(command: String, note: @escaping (String) -> Void) {
        self.command = command
        self.note = note
    }

    /// Feeds every datagram of the capture at `path` to `feed`, then finishes it (what is still missing is reported
    /// lost).
    /// - Returns: the reader, for its summary.
    public mutating func run<C: MessageConsumer, S: TickSink>(file path: String, feed: inout SequencedFeed<C>, sink: inout S)
        throws -> PcapReader
    {
        let reader = try PcapReader(path: path)
        try run(reader: reader, feed: &feed, sink: &sink)
        return reader
    }

    /// Feeds every datagram `reader` yields to `feed`, then finishes it.
    /// - Returns: how many datagrams were fed.
    @discardableResult
    public mutating func run<C: MessageConsumer, S: TickSink>(reader: PcapReader, feed: inout SequencedFeed<C>, sink: inout S)
        throws -> Int
    {
        var lastTime: UInt64 = 0
        var datagrams = 0
        try reader.forEachDatagram { datagram in
            datagrams += 1
            guard let base = datagram.payload.baseAddress else { return }
            feed.process(packet: base, length: datagram.payload.count, receiveTime: datagram.time, sink: &sink)
            lastTime = max(lastTime, datagram.time)
            if !feed.events.isEmpty { report(&feed) }
            progress?.update(UInt64(datagrams))
        }
        progress?.finish()
        feed.finish(now: lastTime, sink: &sink)
        report(&feed)
        for kind in FeedEvent.Kind.allCases where held[kind.rawValue] > 0 {
            note("\(command): \(held[kind.rawValue]) more \(kind.name) were not printed")
        }
        if feed.currentSession == nil {
            note("\(command): no MoldUDP64 session found in \(reader.path)")
        }
        return datagrams
    }

    mutating func report<C: MessageConsumer>(_ feed: inout SequencedFeed<C>) {
        while let event = feed.events.pop() {
            // Losses are printed on stdout too (decode's gap lines, the gap ticks); here they only count.
            if case .lost = event { continue }
            let kind = event.kind.rawValue
            guard printed[kind] < Self.perKind else {
                held[kind] += 1
                continue
            }
            printed[kind] += 1
            note("\(command): \(event.message(feed: "capture", counters: feed.counters))")
        }
    }
}
