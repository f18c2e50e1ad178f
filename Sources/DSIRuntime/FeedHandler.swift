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
        /// Its end of the graph: a filtered sink per branch it reaches. The pipeline runs a copy; this one is for
        /// counting (the counters are shared objects) and is replaced with it by a reload.
        var sinks: [FilteringSink<TickRingSink>] {
            get { sinkLock.withLock { _sinks } }
            set { sinkLock.withLock { _sinks = newValue } }
        }
        private let sinkLock = NSLock()
        private var _sinks: [FilteringSink<TickRingSink>] = []
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
        var consumerGone = ManagedAtomic<Bool>(false)
        /// Ticks the branch's filters on its publisher's worker held back.
        var publisherFiltered = Counter()
        /// Its publisher's batch latencies, for the metrics.
        var latency = LatencyRecorder()

        func ring(from worker: String) -> SPSCRing { rings.first { $0.worker == worker }!.ring }
    }

    /// The ring from the line sockets to the pipeline: its slots, and the bytes of each (a datagram and what the
    /// receiver notes with it).
    static let ingestSlots = 4_096
    static let ingestSlotSize = 2_048

    /// One per configured feed, in the configuration's order.
    public let feeds: [Feed]
    /// The `nats` nodes (they do not change while running).
    let natsBranches: [NATSBranch]
    public let certificate: String
    public let key: String
    /// Every worker, those that run feeds first (in the order they stop), with the feeds each runs and the mailbox
    /// reloads reach it through. Workers do not change while running.
    let workers: [(worker: Worker, feeds: [Int], mailbox: ChangeMailbox)]
    let logger: Logger
    /// The running configuration and branches: replaced by a reload (under `lock`), read by the metrics and admin
    /// threads. The hot path never reads them.
    private let lock = NSLock()
    private var running: (config: ValidatedConfig, branches: [Branch])
    /// Serialises reloads (SIGHUP and the admin socket may ask at once).
    let reloadLock = NSLock()
    /// Bumped by every reload that adds or removes a branch, so the metrics follow.
    public let layoutGeneration = ManagedAtomic<Int>(0)
    /// What removed branches had dropped and filtered, so the totals never go back.
    let retiredDropped = ManagedAtomic<UInt64>(0)
    let retiredFiltered = ManagedAtomic<UInt64>(0)
    /// Stage stamps for `dsi bench jitter` (on the first branch).
    let stamps: StageStamps?

    /// The configuration running now (as started, or as last reloaded).
    public var config: ValidatedConfig { lock.withLock { running.config } }
    var branches: [Branch] { lock.withLock { running.branches } }
    /// One per publish node, in graph order.
    public var publishers: [TLSPublisher] { branches.map(\.publisher) }

    /// The publish nodes running now, in graph order.
    public var publisherNames: [String] { branches.map(\.layout.publish) }

    /// After a reload: what runs now.
    func replaceRunning(config: ValidatedConfig, branches: [Branch]) {
        lock.withLock { running = (config, branches) }
    }

    /// - Parameter stamps: per-tick stage times for `dsi bench jitter`, taken on the first branch; nil in production.
    public init(config: ValidatedConfig, logger: Logger, stamps: StageStamps? = nil) throws {
        try MachineLimits.check(config)  // before anything is allocated or bound
        self.logger = logger
        self.stamps = stamps
        let (certificate, key) = try CertificateStore.resolve(config: config, logger: logger)
        self.certificate = certificate
        self.key = key
        let graph = config.graph
        var branches: [Branch] = []
        for layout in graph.branches {
            branches.append(
                try Self.makeBranch(
                    layout, config: config, certificate: certificate, key: key, stamps: branches.isEmpty ? stamps : nil,
                    logger: logger))
        }
        feeds = try config.feeds.enumerated().map { f, feed in
            try Feed(feed, key: "feeds[\(f)]", file: config.file, worker: graph.feedWorkers[f], logger: logger)
        }
        natsBranches = try graph.natsBranches.map { try Self.makeNATSBranch($0, config: config, logger: logger) }
        running = (config, branches)
        var workers: [(worker: Worker, feeds: [Int], mailbox: ChangeMailbox)] = []
        func place(_ w: WorkerConfig) -> Int {
            if let at = workers.firstIndex(where: { $0.worker.name == w.name }) { return at }
            workers.append((Worker(name: w.name, cpu: w.cpu, idle: w.idle ?? .backoff), [], ChangeMailbox()))
            return workers.count - 1
        }
        for f in feeds.indices { workers[place(graph.feedWorkers[f])].feeds.append(f) }
        for branch in branches { _ = place(branch.layout.worker ?? graph.feedWorkers[branch.layout.feeds[0]]) }
        for branch in natsBranches { _ = place(branch.layout.worker!) }
        self.workers = workers
        for (f, feed) in feeds.enumerated() { feed.sinks = routes(of: f, config, branches) }
    }

    /// A publish node's publisher and rings (one from each worker whose feeds reach it); binds its port.
    static func makeBranch(
        _ layout: ProcessingGraph.Branch, config: ValidatedConfig, certificate: String, key: String, stamps: StageStamps?,
        logger: Logger
    ) throws -> Branch {
        var options = TLSPublisher.Options(listen: config.listen(of: layout), certificate: certificate, key: key)
        options.maxQueuedBytes = config.maxQueuedBytes
        options.limits = config.connectionLimits
        options.subscriberLimits = config.subscriberLimits
        options.journal = config.journal(of: layout)
        options.slowConsumer = config.slowConsumer
        options.conflateGraceNanos = config.conflateGraceNanos
        options.clientCA = config.clientCA
        options.entitlements = config.entitlements
        options.stamps = stamps
        let publisher = try TLSPublisher(options, logger: logger)
        let latency = LatencyRecorder()
        publisher.onBatchLatency = { latency.record($0) }
        return Branch(layout: layout, publisher: publisher, rings: rings(of: layout, config: config), latency: latency)
    }

    /// A ring from each worker whose feeds reach the end of `layout` (one writer each), its memory on the NUMA node of
    /// the worker that reads it.
    static func rings(of layout: ProcessingGraph.Branch, config: ValidatedConfig) -> [(worker: String, ring: SPSCRing)] {
        var rings: [(worker: String, ring: SPSCRing)] = []
        let feedWorkers = config.graph.feedWorkers
        for f in layout.feeds where !rings.contains(where: { $0.worker == feedWorkers[f].name }) {
            let reader = layout.worker ?? feedWorkers[f]
            rings.append(
                (
                    feedWorkers[f].name,
                    SPSCRing(capacity: config.ringSlots, slotSize: MemoryLayout<Tick>.stride, node: NUMA.node(ofCPU: reader.cpu))
                ))
        }
        return rings
    }

    /// A `nats` node's client (connected now: an unreachable cluster refuses the start) and rings.
    static func makeNATSBranch(_ layout: ProcessingGraph.Branch, config: ValidatedConfig, logger: Logger) throws -> NATSBranch {
        let settings = layout.nats!
        let client: NATSClient
        do {
            client = try NATSClient(
                servers: settings.servers, stream: settings.jetstream, subjects: "\(settings.subjectPrefix).>",
                replicas: min(3, settings.servers.count))
        } catch {
            throw ConfigError(file: config.file, key: "nats node '\(layout.publish)'", problem: "\(error)")
        }
        logger.info(
            "nats node \(layout.publish): connected to \(client.server)\(settings.jetstream.map { ", JetStream stream \($0)" } ?? ""), subjects \(settings.subjectPrefix).FEED.KIND.SYMBOL, \(settings.encoding.rawValue)"
        )
        return NATSBranch(layout: layout, settings: settings, client: client, rings: rings(of: layout, config: config))
    }

    /// The worker a branch's publisher runs on: its own, or its feed's.
    func workerConfig(of layout: ProcessingGraph.Branch, in config: ValidatedConfig) -> WorkerConfig {
        layout.worker ?? config.graph.feedWorkers[layout.feeds[0]]
    }

    /// Feed `f`'s end of the graph under `config`: a filtered sink into each branch it reaches. A branch `reuse`
    /// already has keeps its ring sink (its ring, its counters); only the filter is new.
    func routes(of f: Int, _ config: ValidatedConfig, _ branches: [Branch], reuse: [FilteringSink<TickRingSink>] = [])
        -> [FilteringSink<TickRingSink>]
    {
        let worker = config.graph.feedWorkers[f].name
        func sink(
            _ path: ProcessingGraph.Path, _ ring: SPSCRing, _ layout: ProcessingGraph.Branch, gone: ManagedAtomic<Bool>,
            stamps: StageStamps?
        ) -> FilteringSink<TickRingSink> {
            if var kept = reuse.first(where: { $0.inner.ring === ring }) {
                kept.filter = path.pipelineFilter
                return kept
            }
            return FilteringSink(
                inner: TickRingSink(ring: ring, policy: layout.backPressure, consumerGone: gone, stamps: stamps),
                filter: path.pipelineFilter)
        }
        var sinks: [FilteringSink<TickRingSink>] = []
        for (b, branch) in branches.enumerated() {
            guard let path = branch.layout.paths.first(where: { $0.feed == f }) else { continue }
            sinks.append(
                sink(
                    path, branch.ring(from: worker), branch.layout, gone: branch.consumerGone,
                    stamps: b == 0 && f == 0 ? stamps : nil))
        }
        for branch in natsBranches {
            guard let path = branch.layout.paths.first(where: { $0.feed == f }), let ring = branch.ring(from: worker) else {
                continue
            }
            sinks.append(sink(path, ring, branch.layout, gone: branch.consumerGone, stamps: nil))
        }
        return sinks
    }

    /// The publisher subscribers connect to: the first publish node's (the only one in most graphs).
    public var publisher: TLSPublisher { publishers[0] }
    /// The port subscribers connect to (the first publisher's).
    public var port: UInt16 { publisher.port }

    public func start() {
        let config = self.config, branches = self.branches
        for (worker, feedIndices, mailbox) in workers {
            let mine = branches.filter { workerConfig(of: $0.layout, in: config).name == worker.name }
            let nats = natsBranches.filter { $0.layout.worker!.name == worker.name }
            for flag in mine.map(\.consumerGone) + nats.map(\.consumerGone) { mailbox.consumes(flag) }
            worker.start(
                WorkerAgent(
                    pipelines: feedIndices.map(pipeline), publishers: mine.map(publishing), nats: nats.map(natsAgent),
                    favoured: config.graph.favouredOn[worker.name], mailbox: mailbox), logger: logger
            ) { _ in
                // A blocking ring must not wait for a consumer that is gone.
                mailbox.workerDied()
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

    /// The agent that runs a `nats` node.
    func natsAgent(_ branch: NATSBranch) -> NATSAgent {
        NATSAgent(
            branch: branch,
            gate: FeedGate(
                branch.layout.paths.map { (feeds[$0.feed].config.tickName, $0.publisherFilter) }, filtered: branch.filtered))
    }

    /// The agent that runs a branch's publisher: its rings, and the filters of each feed's path on its worker.
    func publishing(_ branch: Branch) -> PublisherAgent {
        PublisherAgent(
            name: branch.layout.publish, publisher: branch.publisher, rings: branch.rings.map(\.ring),
            gate: FeedGate(
                branch.layout.paths.map { (feeds[$0.feed].config.tickName, $0.publisherFilter) },
                filtered: branch.publisherFiltered))
    }

    /// Feed `f`'s pipeline: line sockets → ingest ring → arbitration, decode, books, ticks → its branches' rings.
    func pipeline(_ f: Int) -> SessionWatch {
        let feed = feeds[f]
        let processor = FeedProcessor(
            expectedOrders: feed.config.maxOrders, counters: feed.counters, policy: feed.config.recovery)
        let pipeline = PipelineAgent(
            receivers: feed.receivers, recovery: feed.recovery, ingest: feed.ingest, processor: processor,
            sink: FanOutSink(branches: feed.sinks, feed: feed.config.tickName),
            eventLog: FeedEventLog(feed: feed.config.name, logger: logger))
        return SessionWatch(feed: f, inner: pipeline, ended: feed.sessionEnded)
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
    public var ticksDropped: UInt64 {
        feeds.reduce(retiredDropped.load(ordering: .relaxed)) { $0 + $1.sinks.reduce(0) { $0 + $1.inner.dropped.load } }
    }
    /// Ticks the configured filters held back (summed over branches: a tick two branches refuse counts twice).
    public var ticksFiltered: UInt64 {
        feeds.reduce(retiredFiltered.load(ordering: .relaxed)) { $0 + $1.sinks.reduce(0) { $0 + $1.filtered.load } }
            + branches.reduce(0) { $0 + $1.publisherFiltered.load }
            + natsBranches.reduce(0) { $0 + $1.filtered.load }
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
    /// The feed's place in the configuration.
    let feed: Int
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
