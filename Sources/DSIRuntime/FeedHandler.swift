import Atomics
import DSICore
import DSIFeeds
import DSINet
import Foundation
import Logging

/// The running handler: line sockets joined, rings allocated, publishers listening, workers pinned.
///
/// Everything that can fail (a bad certificate, a port in use, a group that cannot be joined) fails in `init`, before
/// any thread starts. `stop()` drains: the pipeline handles what it already received, each publisher sends every
/// tick and an end frame, then the threads end.
public final class FeedHandler: @unchecked Sendable {
    // @unchecked Sendable: after start, the agents' state belongs to their workers; other threads read only counters.

    /// One branch of the graph at run time: its publish ring and publisher.
    struct Branch {
        let layout: ProcessingGraph.Branch
        let publisher: TLSPublisher
        let ring: SPSCRing
        /// Set when the branch's publisher worker dies, so that a blocking ring stops waiting for it.
        let consumerGone = ManagedAtomic<Bool>(false)
        /// Ticks the branch's filters on its publisher's worker held back.
        let publisherFiltered = Counter()
    }

    /// The ring from the line sockets to the pipeline: its slots, and the bytes of each (a datagram and what the
    /// receiver notes with it).
    static let ingestSlots = 4_096
    static let ingestSlotSize = 2_048

    public let config: ValidatedConfig
    public let counters = FeedCounters()
    /// One per publish node, in graph order.
    public let publishers: [TLSPublisher]
    public let receivers: [MulticastReceiver]
    public let recovery: RecoveryClient?
    public let certificate: String
    public let key: String
    let ingest: SPSCRing
    let branches: [Branch]
    let sink: FanOutSink
    let pipelineWorker: Worker
    /// The workers of publishers that do not run on the pipeline's worker, with the branches each runs.
    let publisherWorkers: [(worker: Worker, branches: [Int])]
    let logger: Logger
    /// Set by the pipeline when the feed's end-of-session packet has been processed.
    public let sessionEnded = ManagedAtomic<Bool>(false)

    /// - Parameter stamps: per-tick stage times for `dsi bench jitter`, taken on the first branch; nil in production.
    public init(config: ValidatedConfig, logger: Logger, stamps: StageStamps? = nil) throws {
        try MachineLimits.check(config)  // before anything is allocated or bound
        self.config = config
        self.logger = logger
        let (certificate, key) = try CertificateStore.resolve(config: config, logger: logger)
        self.certificate = certificate
        self.key = key
        var branches: [Branch] = []
        for layout in config.graph.branches {
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
            let reader = layout.worker ?? config.pipelineWorker
            let ring = SPSCRing(
                capacity: config.ringSlots, slotSize: MemoryLayout<Tick>.stride, node: NUMA.node(ofCPU: reader.cpu))
            branches.append(Branch(layout: layout, publisher: publisher, ring: ring))
        }
        self.branches = branches
        publishers = branches.map(\.publisher)
        receivers = try config.lines.enumerated().map { index, line in
            var options = MulticastReceiver.Options(group: line.group, interface: config.interface)
            options.receiveBuffer = config.receiveBuffer
            options.busyPollMicros = config.busyPollMicros
            options.timestamps = config.timestamps
            let receiver: MulticastReceiver
            do {
                receiver = try MulticastReceiver(options, line: index)
            } catch let error as ReceiveBufferTooSmall {
                throw MachineLimits.refusal(error, file: config.file)
            }
            if let reason = receiver.hardwareUnavailable {
                logger.notice("line \(line.name): \(reason); its datagrams carry the kernel's receive time")
            }
            return receiver
        }
        recovery = try config.recoveryServer.map { try RecoveryClient(server: $0) }
        ingest = SPSCRing(
            capacity: Self.ingestSlots, slotSize: Self.ingestSlotSize, node: NUMA.node(ofCPU: config.pipelineWorker.cpu))
        sink = FanOutSink(
            branches: branches.enumerated().map { i, branch in
                FilteringSink(
                    inner: TickRingSink(
                        ring: branch.ring, policy: branch.layout.backPressure, consumerGone: branch.consumerGone,
                        stamps: i == 0 ? stamps : nil),
                    filter: branch.layout.pipelineFilter)
            })
        pipelineWorker = Worker(
            name: config.pipelineWorker.name, cpu: config.pipelineWorker.cpu, idle: config.pipelineWorker.idle ?? .backoff)
        var others: [(worker: Worker, branches: [Int])] = []
        for (b, branch) in branches.enumerated() {
            guard let w = branch.layout.worker else { continue }
            if let at = others.firstIndex(where: { $0.worker.name == w.name }) {
                others[at].branches.append(b)
            } else {
                others.append((Worker(name: w.name, cpu: w.cpu, idle: w.idle ?? .backoff), [b]))
            }
        }
        publisherWorkers = others
    }

    /// Re-reads what can change while running from `config` (certificates, client CA, entitlements) and hands it to
    /// every publisher; lines, ports, the graph and workers cannot change, and differences there are refused.
    /// - Returns: what was reloaded, for the log.
    public func reload(_ config: ValidatedConfig) throws -> String {
        guard config.lines.map(\.group) == self.config.lines.map(\.group), config.listen == self.config.listen,
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
        let processor = FeedProcessor(expectedOrders: config.maxOrders, counters: counters, policy: config.recovery)
        let pipeline = PipelineAgent(
            receivers: receivers, recovery: recovery, ingest: ingest, processor: processor, sink: sink,
            eventLog: FeedEventLog(feed: config.feedName, logger: logger))
        let agent = SessionWatch(inner: pipeline, ended: sessionEnded)
        func publishing(_ b: Int) -> PublisherAgent {
            let branch = branches[b]
            return PublisherAgent(
                publisher: branch.publisher, ring: branch.ring,
                gate: CountingGate(filter: branch.layout.publisherFilter, filtered: branch.publisherFiltered))
        }
        for (worker, indices) in publisherWorkers {
            let gone = indices.map { branches[$0].consumerGone }
            worker.start(AgentGroup(indices.map(publishing)), logger: logger) { _ in
                for flag in gone { flag.store(true, ordering: .releasing) }
            }
        }
        let local = branches.indices.filter { branches[$0].layout.worker == nil }
        if local.isEmpty {
            pipelineWorker.start(agent, logger: logger)
        } else {
            // Publishers on the pipeline's worker: fused after the pipeline in the same duty cycle. Their rings stay
            // as buffers; a full one cannot wait for a consumer on the same thread, so it drops (counted).
            let group = AgentGroup(local.map(publishing))
            if let favoured = config.graph.favoured {
                pipelineWorker.start(PrioritizedPair(agent, group, favoured: favoured), logger: logger)
            } else {
                pipelineWorker.start(AgentPair(agent, group), logger: logger)
            }
        }
        let listening = branches.map { "\($0.layout.publish)=\(config.listen(of: $0.layout).address):\($0.publisher.port)" }
        logger.info(
            """
            feed \(config.feedName): lines \(config.lines.map { "\($0.name)=\($0.group)" }.joined(separator: " ")) \
            on \(config.interface); publishing TLS 1.3 on \(listening.joined(separator: " ")); \
            graph \(config.graph.description); \(workerLine); \(memoryLine)
            """)
    }

    /// Which rings the kernel gave reserved huge pages (the `vm.nr_hugepages` pool), for whoever sized that pool.
    var memoryLine: String {
        let rings = [ingest] + branches.map(\.ring)
        let reserved = rings.filter(\.reservedHugePages).count
        return "\(reserved) of \(rings.count) rings on reserved huge pages"
    }

    var workerLine: String {
        func describe(_ w: WorkerConfig) -> String {
            "worker \(w.name) on CPU \(w.cpu.map(String.init) ?? "any") (\((w.idle ?? .backoff).rawValue))"
        }
        return config.workers.map(describe).joined(separator: ", ")
    }

    /// Drains and stops the workers, the pipeline's first (its last ticks reach the rings before the publishers
    /// drain them); returns the first worker failure, if any.
    @discardableResult
    public func stop() -> Error? {
        pipelineWorker.stop()
        pipelineWorker.join()
        for (worker, _) in publisherWorkers {
            worker.stop()
            worker.join()
        }
        return pipelineWorker.failure ?? publisherWorkers.lazy.compactMap(\.worker.failure).first
    }

    /// Whether a worker has died (its error is in `failure`).
    public var failure: Error? {
        if pipelineWorker.hasFinished, let e = pipelineWorker.failure { return e }
        for (w, _) in publisherWorkers where w.hasFinished { if let e = w.failure { return e } }
        return nil
    }

    /// Ticks that were built but could not be handed to a publisher (summed over branches).
    public var ticksDropped: UInt64 { sink.branches.reduce(0) { $0 + $1.inner.dropped.load } }
    /// Ticks the configured filters held back (summed over branches: a tick two branches refuse counts twice).
    public var ticksFiltered: UInt64 {
        sink.branches.reduce(0) { $0 + $1.filtered.load } + branches.reduce(0) { $0 + $1.publisherFiltered.load }
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
    /// Whether the pipeline has nothing received but unprocessed.
    public var ingestEmpty: Bool { ingest.count == 0 }
    public var publishRingEmpty: Bool { branches.allSatisfy { $0.ring.count == 0 } }
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
