import DSICore
import DSIFeeds
import DSINet
import DSIRuntime
import DSITestSupport
import DSITools
import Foundation
import Logging
import Testing

/// A graph from config, really run: filters on both workers (or one worker for everything), over loopback multicast
/// and TLS; the subscriber sees exactly the ticks `dsi ticks` computes with the same filters, numbered without gaps.
@Suite(.serialized) struct GraphRunTests {
    /// Runs the graph over a generated session; per publish node (in graph order), what its subscriber got and what
    /// its branch's filters let through offline.
    func run(graph: [NodeConfig], workers: [WorkerConfig]) throws -> [(got: [Tick], expected: [Tick])] {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let session = try SessionGenerator.generate(.init(messages: 10_000, seed: 31))
        try CaptureFile.write(session, to: dir.file("s.pcap"))
        let port = try FreePort.udp()
        var publisher = PublisherConfig(listen: "127.0.0.1:0")
        publisher.stateDirectory = dir.path
        var config = HandlerConfig(
            feeds: [FeedConfig(name: "g", interface: "127.0.0.1", lines: [LineConfig(name: "A", group: "239.255.0.1:\(port)")])],
            publisher: publisher, workers: workers)
        config.graph = graph
        let validated = try config.validated(file: "(test)")

        // What each branch's filters let through, computed offline.
        let expected = validated.graph.branches.map { branch in
            var sink = FilteringSink(inner: CollectingSink(), filter: validated.filter(of: branch))
            var processor = FeedProcessor(expectedOrders: 1 << 16)
            for p in session.packets {
                p.payload.withUnsafeBytes {
                    processor.process(packet: $0.baseAddress!, length: $0.count, receiveTime: p.time, sink: &sink)
                }
            }
            return sink.inner.ticks
        }

        let handler = try FeedHandler(config: validated, logger: Logger(label: "test"))
        handler.start()
        final class Box: @unchecked Sendable { var ticks: [Tick] = [] }
        var readers: [(BackgroundThread, Box)] = []
        for publisher in handler.publishers {
            var options = TLSSubscriber.Options(host: "127.0.0.1", port: publisher.port)
            options.caFile = handler.certificate
            let subscriber = try TLSSubscriber(options)
            try subscriber.subscribe(.all)
            let box = Box()
            readers.append((BackgroundThread { _ = try? subscriber.run { box.ticks.append($0) } }, box))
        }
        let deadline = Date().addingTimeInterval(5)
        while handler.publishers.contains(where: { $0.subscribers.load < 1 }) && Date() < deadline { usleep(1000) }
        var replayer = Replayer(destinations: [], pacing: .original(speed: 1))
        replayer.portOverride = port
        replayer.spinThresholdNanos = 0
        _ = try replayer.replay(path: dir.file("s.pcap"))
        let ended = Date().addingTimeInterval(20)
        while !(handler.sessionEnded && handler.ingestEmpty) && Date() < ended { usleep(2000) }
        _ = handler.stop()
        for (reader, _) in readers { reader.join() }
        #expect(handler.ticksDropped == 0)
        return zip(readers, expected).map { ($0.1.ticks, $1) }
    }

    func check(_ results: [(got: [Tick], expected: [Tick])]) {
        #expect(results.count == 1)
        check(results[0])
        #expect(results[0].got.allSatisfy { $0.kind == .trade && $0.stock.description != "ZXB" })
    }

    /// Every tick the branch's filters let through, in order, numbered without gaps after the last filter.
    func check(_ result: (got: [Tick], expected: [Tick])) {
        #expect(result.got.count == result.expected.count)
        #expect(result.got.count > 100)
        #expect(result.got.map(\.seq) == result.expected.map(\.seq))
        #expect(result.got.map(\.streamSeq) == Array(1...UInt64(result.got.count)), "numbered after the last filter")
    }

    @Test func filtersOnBothWorkers() throws {
        check(
            try run(
                graph: [
                    NodeConfig(name: "itch", kind: "feed"),
                    NodeConfig(
                        name: "notB", kind: "filter", input: "itch", options: NodeOptions(symbols: ["ZXA", "ZXC", "ZXD"])),
                    NodeConfig(name: "trades", kind: "filter", input: "notB", options: NodeOptions(kinds: ["trade"])),
                    NodeConfig(name: "out", kind: "publish", input: "trades"),
                ],
                workers: [
                    WorkerConfig(name: "w0", cpu: 0, idle: .backoff, nodes: ["itch", "notB"]),
                    WorkerConfig(name: "w1", cpu: 1, idle: .backoff, nodes: ["trades", "out"]),
                ]))
    }

    /// Both stages on one worker: polled every cycle (equal priority), or either one favoured: nothing is lost in any.
    @Test(arguments: [(feed: 0, publish: 0), (feed: 1, publish: 0), (feed: 0, publish: 1)])
    func oneWorkerForEverything(priorities: (feed: Int, publish: Int)) throws {
        check(
            try run(
                graph: [
                    NodeConfig(name: "itch", kind: "feed", priority: priorities.feed),
                    NodeConfig(
                        name: "notB", kind: "filter", input: "itch", options: NodeOptions(symbols: ["ZXA", "ZXC", "ZXD"])),
                    NodeConfig(name: "trades", kind: "filter", input: "notB", options: NodeOptions(kinds: ["trade"])),
                    NodeConfig(name: "out", kind: "publish", input: "trades", priority: priorities.publish),
                ],
                workers: [WorkerConfig(name: "solo", cpu: 0, idle: .backoff, nodes: ["itch", "notB", "trades", "out"])]))
    }

    /// A fan-out: one feed, two branches with their own filters and publishers, one publisher on the feed's worker
    /// and one on a worker of its own. Each subscriber gets exactly its branch's ticks.
    @Test func twoBranchesTwoPublishers() throws {
        let results = try run(
            graph: [
                NodeConfig(name: "itch", kind: "feed"),
                NodeConfig(name: "notB", kind: "filter", input: "itch", options: NodeOptions(symbols: ["ZXA", "ZXC", "ZXD"])),
                NodeConfig(name: "trades", kind: "filter", input: "notB", options: NodeOptions(kinds: ["trade"])),
                NodeConfig(name: "tradesOut", kind: "publish", input: "trades"),
                NodeConfig(name: "quotes", kind: "filter", input: "itch", options: NodeOptions(kinds: ["quote"])),
                NodeConfig(name: "quotesOut", kind: "publish", input: "quotes", options: NodeOptions(listen: "127.0.0.1:0")),
            ],
            workers: [
                WorkerConfig(name: "w0", cpu: 0, idle: .backoff, nodes: ["itch", "notB", "quotes", "quotesOut"]),
                WorkerConfig(name: "w1", cpu: 1, idle: .backoff, nodes: ["trades", "tradesOut"]),
            ])
        #expect(results.count == 2)
        check(results[0])
        check(results[1])
        #expect(results[0].got.allSatisfy { $0.kind == .trade && $0.stock.description != "ZXB" })
        #expect(results[1].got.allSatisfy { $0.kind == .quote })
    }
}
