import Atomics
import DSICore
import DSIFeeds
import DSINet
import Foundation
import Logging

/// The running handler: line sockets joined, rings allocated, publishers listening, workers pinned.
///
/// Everything that can fail (a bad certificate, a port in use, a group that cannot be joined) fails in `init`, before
/// any thread starts. `stop()` drains: the pipelines handle what they already received, each publisher sends every
/// tick and an end frame, then the threads end.
public final class FeedHandler: @unchecked Sendable {
    // @unchecked Sendable: after start, the agents' state belongs to their workers; other threads read only counters.

    /// One feed at run time: its line sockets, re-request client, ingest ring and counters.
    public final class Feed: @unchecked Sendable {
        // @unchecked Sendable: as the handler's.
        public let config: ValidatedConfig.Feed
        public let counters = FeedCounters()
        public let receivers: [MulticastReceiver]
        public let recovery: RecoveryClient?
        let ingest: SPSCRing
        /// Its end of the graph: a filtered sink per branch it reaches (made once the rings exist).
        var sink = FanOutSink(branches: [])
        /// Set by its pipeline when the feed's end-of-session packet has been processed.
        public let sessionEnded = ManagedAtomic<Bool>(false)

        init(_ config: ValidatedConfig.Feed, key: String, file: String, worker: WorkerConfig, logger: Logger) throws {
            self.config = config
            receivers = try config.lines.enumerated().map { index, line in
                var options = MulticastReceiver.Options(group: line.group, interface: config.interface)
                options.receiveBuffer = config.receiveBuffer
                options.busyPollMicros = config.busyPollMicros
                options.timestamps = config.timestamps
                let receiver: MulticastReceiver
                do {
                    receiver = try MulticastReceiver(options, line: index)
                } catch let error as ReceiveBufferTooSmall {
                    throw ConfigError(file: file, key: "\(key).receiveBuffer", problem: "\(error)")
                }
                if let reason = receiver.hardwareUnavailable {
                    logger.notice(
                        "feed \(config.name) line \(line.name): \(reason); its datagrams carry the kernel's receive time")
                }
                return receiver
            }
            recovery = try config.recoveryServer.map { try RecoveryClient(server: $0) }
            ingest = SPSCRing(
                capacity: FeedHandler.ingestSlots, slotSize: FeedHandler.ingestSlotSize, node: NUMA.node(ofCPU: worker.cpu))
        }
    }

    /// One publish node at run time: its publisher, and a ring from each worker whose feeds reach it.
    struct Branch {
        let layout: ProcessingGraph.Branch
        let publisher: TLSPublisher
        /// By feed worker name, in the order the feeds first reach it.
        let rings: [(worker: String, ring: SPSCRing)]
        /// Set when the branch's publisher worker dies, so that a blocking ring stops waiting for it.
        let consumerGone = ManagedAtomic<Bool>(false)
        /// Ticks the branch's filters on its publisher's worker held back.
        let publisherFiltered = Counter()

        func ring(from worker: String) -> SPSCRing { rings.first { $0.worker == worker }!.ring }
    }

    /// The ring from the line sockets to the pipeline: its slots, and the bytes of each (a datagram and what the
    /// receiver notes with it).
    static let ingestSlots = 4_096
    static let ingestSlotSize = 2_048

    public let config: ValidatedConfig
    /// One per configured feed, in the configuration's order.
    public let feeds: [Feed]
    /// One per publish node, in graph order.
    public let publishers: [TLSPublisher]
    public let certificate: String
    public let key: String
    let branches: [Branch]
    /// Every worker, those that run feeds first (in the order they stop), with the feeds and branches each runs.
    let workers: [(worker: Worker, feeds: [Int], branches: [Int])]
    let logger: Logger

    /// - Parameter stamps: per-tick stage times for `dsi bench jitter`, taken on the first branch; nil in production.
    public init(config: ValidatedConfig, logger: Logger, stamps: StageStamps? = nil) throws {
        try MachineLimits.check(config)  // before anything is allocated or bound
        self.config = config
        self.logger = logger
        let (certificate, key) = try CertificateStore.resolve(config: config, logger: logger)
        self.certificate = certificate
        self.key = key
        let graph = config.graph
        var branches: [Branch] = []
        for layout in graph.branches {
            var options = TLSPublisher.Options(listen: config.listen(of: layout), certificate: certificate, key: key)
            options.maxQueuedBytes = config.maxQueuedBytes
            options.limits = config.connectionLimits
            options.subscriberLimits = config.subscriberLimits
            options.journal = config.journal(of: layout)
            options.slowConsumer = config.slowConsumer
            options.conflateGraceNanos = config.conflateGraceNanos
            options.clientCA = config.clientCA
            options.entitlements = config.entitlements
            if branches.isEmpty { options.stamps = stamps }
            let publisher = try TLSPublisher(options, logger: logger)
            // Each ring's memory goes on the NUMA node of the worker that reads it.
            var rings: [(worker: String, ring: SPSCRing)] = []
            for f in layout.feeds where !rings.contains(where: { $0.worker == graph.feedWorkers[f].name }) {
                let reader = layout.worker ?? graph.feedWorkers[f]
                rings.append(
                    (
                        graph.feedWorkers[f].name,
                        SPSCRing(
                            capacity: config.ringSlots, slotSize: MemoryLayout<Tick>.stride, node: NUMA.node(ofCPU: reader.cpu))
                    ))
            }
            branches.append(Branch(layout: layout, publisher: publisher, rings: rings))
        }
        self.branches = branches
        publishers = branches.map(\.publisher)
        feeds = try config.feeds.enumerated().map { f, feed in
            try Feed(feed, key: "feeds[\(f)]", file: config.file, worker: graph.feedWorkers[f], logger: logger)
        }
        for (f, feed) in feeds.enumerated() {
            var reached: [FilteringSink<TickRingSink>] = []
            for (b, branch) in branches.enumerated() {
                guard let path = branch.layout.paths.first(where: { $0.feed == f }) else { continue }
                reached.append(
                    FilteringSink(
                        inner: TickRingSink(
                            ring: branch.ring(from: graph.feedWorkers[f].name), policy: branch.layout.backPressure,
                            consumerGone: branch.consumerGone, stamps: b == 0 && f == 0 ? stamps : nil),
                        filter: path.pipelineFilter))
            }
            feed.sink = FanOutSink(branches: reached, feed: feed.config.tickName)
        }
        var workers: [(worker: Worker, feeds: [Int], branches: [Int])] = []
        func place(_ w: WorkerConfig) -> Int {
            if let at = workers.firstIndex(where: { $0.worker.name == w.name }) { return at }
            workers.append((Worker(name: w.name, cpu: w.cpu, idle: w.idle ?? .backoff), [], []))
            return workers.count - 1
        }
        for f in feeds.indices { workers[place(graph.feedWorkers[f])].feeds.append(f) }
        for (b, branch) in branches.enumerated() {
            workers[place(branch.layout.worker ?? graph.feedWorkers[branch.layout.feeds[0]])].branches.append(b)
        }
        self.workers = workers
    }

    /// Re-reads what can change while running from `config` (certificates, client CA, entitlements) and hands it to
    /// every publisher; lines, ports, the graph and workers cannot change, and differences there are refused.
    /// - Returns: what was reloaded, for the log.
    public func reload(_ config: ValidatedConfig) throws -> String {
        guard config.feeds.map({ $0.lines.map(\.group) }) == self.config.feeds.map({ $0.lines.map(\.group) }),
            config.listen == self.config.listen,
            config.graph.description == self.config.graph.description
        else {
            throw ConfigError(
                file: config.file, key: "feeds/publisher/graph",
                problem: "lines, listen addresses and the graph cannot change while running (restart to change them)")
        }
        let (certificate, key) = try CertificateStore.resolve(config: config, logger: logger)
        for publisher in publishers {
            try publisher.requestReload(
                .init(certificate: certificate, key: key, clientCA: config.clientCA, entitlements: config.entitlements))
        }
        return
            "certificate \(certificate), client CA \(config.clientCA ?? "none"), \(config.entitlements?.entries.count ?? 0) entitlements"
    }

    /// The publisher subscribers connect to: the first publish node's (the only one in most graphs).
    public var publisher: TLSPublisher { publishers[0] }
    /// The port subscribers connect to (the first publisher's).
    public var port: UInt16 { publisher.port }

    public func start() {
        func publishing(_ b: Int) -> PublisherAgent {
            let branch = branches[b]
            return PublisherAgent(
                publisher: branch.publisher, rings: branch.rings.map(\.ring),
                gate: FeedGate(
                    branch.layout.paths.map { (feeds[$0.feed].config.tickName, $0.publisherFilter) },
                    filtered: branch.publisherFiltered))
        }
        for (worker, feedIndices, branchIndices) in workers {
            let gone = branchIndices.map { branches[$0].consumerGone }
            let onFailure: @Sendable (Error) -> Void = { _ in for flag in gone { flag.store(true, ordering: .releasing) } }
            let pipelines = AgentGroup(feedIndices.map(pipeline))
            let publishers = AgentGroup(branchIndices.map(publishing))
            if feedIndices.isEmpty {
                worker.start(publishers, logger: logger, onFailure: onFailure)
            } else if branchIndices.isEmpty {
                worker.start(pipelines, logger: logger)
            } else if let favoured = config.graph.favouredOn[worker.name] {
                // Publishers on a feed worker: fused after its pipelines in the same duty cycle. Their rings stay as
                // buffers; a full one cannot wait for a consumer on the same thread, so it drops (counted).
                worker.start(PrioritizedPair(pipelines, publishers, favoured: favoured), logger: logger, onFailure: onFailure)
            } else {
                worker.start(AgentPair(pipelines, publishers), logger: logger, onFailure: onFailure)
            }
        }
        let listening = branches.map { "\($0.layout.publish)=\(config.listen(of: $0.layout).address):\($0.publisher.port)" }
        for feed in feeds {
            logger.info(
                "feed \(feed.config.name): lines \(feed.config.lines.map { "\($0.name)=\($0.group)" }.joined(separator: " ")) on \(feed.config.interface)"
            )
        }
        logger.info(
            """
            publishing TLS 1.3 on \(listening.joined(separator: " ")); graph \(config.graph.description); \(workerLine); \
            \(memoryLine)
            """)
    }

    /// Feed `f`'s pipeline: line sockets → ingest ring → arbitration, decode, books, ticks → its branches' rings.
    func pipeline(_ f: Int) -> SessionWatch {
        let feed = feeds[f]
        let processor = FeedProcessor(
            expectedOrders: feed.config.maxOrders, counters: feed.counters, policy: feed.config.recovery)
        let pipeline = PipelineAgent(
            receivers: feed.receivers, recovery: feed.recovery, ingest: feed.ingest, processor: processor, sink: feed.sink,
            eventLog: FeedEventLog(feed: feed.config.name, logger: logger))
        return SessionWatch(inner: pipeline, ended: feed.sessionEnded)
    }

    /// Which rings the kernel gave reserved huge pages (the `vm.nr_hugepages` pool), for whoever sized that pool.
    var memoryLine: String {
        let rings = feeds.map(\.ingest) + branches.flatMap { $0.rings.map(\.ring) }
        let reserved = rings.filter(\.reservedHugePages).count
        return "\(reserved) of \(rings.count) rings on reserved huge pages"
    }

    var workerLine: String {
        func describe(_ w: WorkerConfig) -> String {
            "worker \(w.name) on CPU \(w.cpu.map(String.init) ?? "any") (\((w.idle ?? .backoff).rawValue))"
        }
        return config.workers.map(describe).joined(separator: ", ")
    }

    /// Drains and stops the workers, the feeds' first (their last ticks reach the rings before the publishers
    /// drain them); returns the first worker failure, if any.
    @discardableResult
    public func stop() -> Error? {
        for (worker, _, _) in workers {
            worker.stop()
            worker.join()
        }
        return workers.lazy.compactMap(\.worker.failure).first
    }

    /// Whether a worker has died (its error is in `failure`).
    public var failure: Error? {
        for (w, _, _) in workers where w.hasFinished { if let e = w.failure { return e } }
        return nil
    }

    /// The first feed's counters (the only feed's, in most handlers).
    public var counters: FeedCounters { feeds[0].counters }
    /// Every line socket, feed by feed.
    public var receivers: [MulticastReceiver] { feeds.flatMap(\.receivers) }
    /// Whether every feed's end-of-session packet has been handled.
    public var sessionEnded: Bool { feeds.allSatisfy { $0.sessionEnded.load(ordering: .acquiring) } }
    /// Ticks that were built but could not be handed to a publisher (summed over feeds and branches).
    public var ticksDropped: UInt64 { feeds.reduce(0) { $0 + $1.sink.branches.reduce(0) { $0 + $1.inner.dropped.load } } }
    /// Ticks the configured filters held back (summed over branches: a tick two branches refuse counts twice).
    public var ticksFiltered: UInt64 {
        feeds.reduce(0) { $0 + $1.sink.branches.reduce(0) { $0 + $1.filtered.load } }
            + branches.reduce(0) { $0 + $1.publisherFiltered.load }
    }
    /// Ticks sent, subscribers connected, slow subscribers cut off: summed over the publishers.
    public var ticksPublished: UInt64 { publishers.reduce(0) { $0 + $1.ticksPublished.load } }
    public var subscribers: UInt64 { publishers.reduce(0) { $0 + $1.subscribers.load } }
    public var slowConsumerDisconnects: UInt64 { publishers.reduce(0) { $0 + $1.slowConsumerDisconnects.load } }
    /// Connections closed on arrival because a connection limit was reached.
    public var connectionsRefused: UInt64 { publishers.reduce(0) { $0 + $1.connectionsRefused.load } }
    public var kernelDrops: UInt64 { receivers.reduce(0) { $0 + $1.kernelDrops.load } }
    /// Datagrams the NICs stamped (`timestamps: hardware`).
    public var hardwareStamped: UInt64 { receivers.reduce(0) { $0 + $1.hardwareStamped.load } }
    public var datagramsReceived: UInt64 { receivers.reduce(0) { $0 + $1.datagrams.load } }
    /// Whether the pipelines have nothing received but unprocessed.
    public var ingestEmpty: Bool { feeds.allSatisfy { $0.ingest.count == 0 } }
    public var publishRingEmpty: Bool { branches.allSatisfy { $0.rings.allSatisfy { $0.ring.count == 0 } } }
}

/// Marks the feed's end of session for whoever waits on it (the demo, tests).
struct SessionWatch: Agent {
    var inner: PipelineAgent
    let ended: ManagedAtomic<Bool>
    mutating func doWork() throws -> Int {
        let work = try inner.doWork()
        // Ended means handled: the end-of-session packet arrived and no gap is still being recovered.
        if inner.processor.sessionEnded && !inner.processor.hasOpenGap { ended.store(true, ordering: .releasing) }
        return work
    }
    mutating func onClose() { inner.onClose() }
}
