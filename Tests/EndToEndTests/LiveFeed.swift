import DSICore
import DSIFeeds
import DSINet
import DSIRuntime
import DSITestSupport
import DSITools
import Foundation
import Logging
import Testing

/// A handler on two fresh loopback lines with a subscriber that keeps every tick, and optionally a re-request server
/// over a capture: what the end-to-end recovery and fault tests run a capture into, through the in-process replayer
/// or the real `dsi replay`.
final class LiveFeed: @unchecked Sendable {
    // @unchecked Sendable: `boxed` is written by the reader thread and read after `join`; `stop` is a flag.
    let handler: FeedHandler
    let port: UInt16
    let config: ValidatedConfig
    private let subscriber: TLSSubscriber
    private let reading: BackgroundThread
    private let serving: BackgroundThread?
    private let stop = StopFlag()

    struct Outcome {
        var counters: [String: UInt64]
        var ticks: [Tick]
        var gaps: [ClosedRange<UInt64>] {
            ticks.filter { $0.statusType == Tick.gapStatusType }.map { $0.gapFirst...$0.gapLast }
        }
        var joins: [UInt64] { ticks.filter { $0.statusType == Tick.joinStatusType }.map(\.gapFirst) }
        /// The ticks without the ones the sequencer itself made (gaps, joins) and without what differs between runs
        /// of one session (stream numbering, receive times): what the session's messages produced.
        func marketTicks() throws -> [String] {
            try ticks.filter { $0.statusType != Tick.gapStatusType && $0.statusType != Tick.joinStatusType }.map { t in
                var c = t
                c.streamSeq = 0
                c.receiveTime = 0
                return try canonical(JSONSerialization.jsonObject(with: Data(c.jsonLine.utf8)) as! [String: Any])
            }
        }
    }

    /// Starts a handler whose feed `configure` may adjust (recovery server, join policy, waits); with `serving`, an
    /// in-process re-request server over that capture is the feed's recovery server.
    init(dir: TemporaryDirectory, serving capture: String? = nil, configure: (inout FeedConfig) -> Void = { _ in }) throws {
        port = try FreePort.udp()
        var feed = FeedConfig(
            name: "live", interface: "127.0.0.1",
            lines: [
                LineConfig(name: "A", group: "239.255.0.1:\(port)"), LineConfig(name: "B", group: "239.255.0.2:\(port)"),
            ])
        feed.maxOrders = 200_000
        let server = try capture.map { try RecoveryServer(listen: IPv4Endpoint("127.0.0.1:0")!, store: .load(capture: $0)) }
        if let server { feed.recovery = "127.0.0.1:\(server.port)" }
        configure(&feed)
        var publisher = PublisherConfig(listen: "127.0.0.1:0")
        publisher.stateDirectory = dir.path
        config = try HandlerConfig(feeds: [feed], publisher: publisher).validated(file: "(test)")
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        handler = try FeedHandler(config: config, logger: logger)
        handler.start()
        var options = TLSSubscriber.Options(host: "127.0.0.1", port: handler.port)
        options.caFile = handler.certificate
        let subscriber = try TLSSubscriber(options)
        try subscriber.subscribe(.all)
        self.subscriber = subscriber
        let box = Box()
        reading = BackgroundThread { _ = try? subscriber.run { box.ticks.append($0) } }
        boxed = box
        let stop = self.stop
        serving = server.map { server in BackgroundThread { server.serve { stop.isSet } } }
        let deadline = Date().addingTimeInterval(5)
        while handler.publisher.subscribers.load < 1 && Date() < deadline { usleep(1000) }
    }

    final class Box: @unchecked Sendable { var ticks: [Tick] = [] }
    private var boxed: Box

    /// The two lines' groups, for a replay's `--to`.
    var lines: [IPv4Endpoint] { config.lines.map(\.group) }

    /// Waits for the end of the session to be handled (expected within `timeout`), stops the handler and the
    /// re-request server, and collects.
    func finish(timeout: Double = 30, sourceLocation: SourceLocation = #_sourceLocation) -> Outcome {
        let deadline = Date().addingTimeInterval(timeout)
        while !(handler.sessionEnded && handler.ingestEmpty) && Date() < deadline { usleep(2000) }
        let ended = handler.sessionEnded
        #expect(ended, "end of session handled", sourceLocation: sourceLocation)
        _ = handler.stop()
        reading.join()
        stop.set()
        serving?.join()
        return Outcome(counters: Dictionary(uniqueKeysWithValues: handler.counters.snapshot), ticks: boxed.ticks)
    }

    /// Replays `capture` with the in-process replayer: onto its own line layout moved to this feed's port, or with
    /// `onFeedLines`, every packet onto each of this feed's lines; each copy dropped with probability `drop`.
    @discardableResult
    func replay(_ capture: String, fromSequence: UInt64? = nil, onFeedLines: Bool = false, drop: Double = 0)
        throws -> Replayer.Report
    {
        var replayer = Replayer(destinations: onFeedLines ? lines : [], pacing: .original(speed: 1))
        replayer.spinThresholdNanos = 0
        replayer.portOverride = port
        replayer.fromSequence = fromSequence
        replayer.dropProbability = drop
        replayer.dropSeed = 3
        return try replayer.replay(path: capture)
    }
}

/// `dsi ticks` of a capture in the form `LiveFeed.Outcome.marketTicks` compares.
func offlineTicks(_ capture: String) throws -> [String] {
    let result = try Commands.run(Commands.dsi, ["ticks", capture, "--feed", "live", "--format", "jsonl"])
    try #require(result.status == 0, "dsi ticks \(capture): \(result.stderr)")
    return try jsonLines(result.stdout).filter { ($0["status"] as? String) != "gap" && ($0["status"] as? String) != "join" }
        .map { object in
            var o = object
            o["streamSeq"] = 0
            o["receiveTime"] = 0
            return o
        }
        .map { try canonical($0) }
}
