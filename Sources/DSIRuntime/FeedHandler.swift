import Atomics
import DSICore
import DSIFeeds
import DSINet
import Foundation
import Logging

/// The running handler: line sockets joined, rings allocated, publisher listening, two workers pinned.
///
/// Everything that can fail (a bad certificate, a port in use, a group that cannot be joined) fails in `init`, before
/// any thread starts. `stop()` drains: the pipeline handles what it already received, the publisher sends every tick
/// and an end frame, then both threads end.
public final class FeedHandler: @unchecked Sendable {
    // @unchecked Sendable: after start, the agents' state belongs to their workers; other threads read only counters.

    public let config: ValidatedConfig
    public let counters = FeedCounters()
    public let publisher: TLSPublisher
    public let receivers: [MulticastReceiver]
    public let recovery: RecoveryClient?
    public let certificate: String
    public let key: String
    let ingest: SPSCRing
    let ticks: SPSCRing
    let sink: FilteringSink<TickRingSink>
    let consumerGone = ManagedAtomic<Bool>(false)
    let pipelineWorker: Worker
    /// nil when one worker runs the pipeline and the publisher.
    let publisherWorker: Worker?
    /// Ticks the graph's filters on the publisher's worker held back.
    let publisherFiltered = Counter()
    let logger: Logger
    private var pipelineBox: PipelineAgent?
    /// Set by the pipeline when the feed's end-of-session packet has been processed.
    public let sessionEnded = ManagedAtomic<Bool>(false)

    public init(config: ValidatedConfig, logger: Logger) throws {
        self.config = config
        self.logger = logger
        let (certificate, key) = try CertificateStore.resolve(config: config, logger: logger)
        self.certificate = certificate
        self.key = key
        var publisherOptions = TLSPublisher.Options(listen: config.listen, certificate: certificate, key: key)
        publisherOptions.maxQueuedBytes = config.maxQueuedBytes
        publisher = try TLSPublisher(publisherOptions, logger: logger)
        receivers = try config.lines.enumerated().map { index, line in
            var options = MulticastReceiver.Options(group: line.group, interface: config.interface)
            options.receiveBuffer = config.receiveBuffer
            options.busyPollMicros = config.busyPollMicros
            return try MulticastReceiver(options, line: index)
        }
        recovery = try config.recoveryServer.map { try RecoveryClient(server: $0) }
        // Each ring's memory goes on the NUMA node of the worker that reads it.
        ingest = SPSCRing(capacity: 4096, slotSize: 2048, node: NUMA.node(ofCPU: config.pipelineWorker.cpu))
        ticks = SPSCRing(capacity: config.ringSlots, slotSize: MemoryLayout<Tick>.stride,
                         node: NUMA.node(ofCPU: config.publisherWorker.cpu))
        sink = FilteringSink(inner: TickRingSink(ring: ticks, policy: config.backPressure, consumerGone: consumerGone),
                             filter: config.graph.pipelineFilter)
        pipelineWorker = Worker(name: config.pipelineWorker.name, cpu: config.pipelineWorker.cpu, idle: config.pipelineWorker.idle ?? .backoff)
        publisherWorker = config.graph.publisherWorker.map { Worker(name: $0.name, cpu: $0.cpu, idle: $0.idle ?? .backoff) }
    }

    /// The port subscribers connect to.
    public var port: UInt16 { publisher.port }

    public func start() {
        let processor = FeedProcessor(expectedOrders: config.maxOrders, counters: counters, policy: config.recovery)
        let pipeline = PipelineAgent(receivers: receivers, recovery: recovery, ingest: ingest, processor: processor, sink: sink,
                                     lostLog: LostGapLog(feed: config.feedName, logger: logger))
        let agent = SessionWatch(inner: pipeline, ended: sessionEnded)
        let publishing = PublisherAgent(publisher: publisher, ring: ticks,
                                        gate: CountingGate(filter: config.graph.publisherFilter, filtered: publisherFiltered))
        if let publisherWorker {
            let gone = consumerGone
            publisherWorker.start(publishing, logger: logger) { _ in gone.store(true, ordering: .releasing) }
            pipelineWorker.start(agent, logger: logger)
        } else {
            // One worker: the publisher's half is fused after the pipeline's in the same duty cycle. The ring between
            // them stays as a buffer; a full ring cannot wait for a consumer on the same thread, so it drops (counted).
            if let favoured = config.graph.favoured {
                pipelineWorker.start(PrioritizedPair(agent, publishing, favoured: favoured), logger: logger)
            } else {
                pipelineWorker.start(AgentPair(agent, publishing), logger: logger)
            }
        }
        logger.info("""
            feed \(config.feedName): lines \(config.lines.map { "\($0.name)=\($0.group)" }.joined(separator: " ")) \
            on \(config.interface); publishing TLS 1.3 on \(config.listen.address):\(port); \
            graph \(config.graph.description); \(workerLine)
            """)
    }

    var workerLine: String {
        func describe(_ w: WorkerConfig) -> String { "worker \(w.name) on CPU \(w.cpu.map(String.init) ?? "any") (\((w.idle ?? .backoff).rawValue))" }
        return ([config.pipelineWorker] + (config.graph.publisherWorker.map { [$0] } ?? [])).map(describe).joined(separator: ", ")
    }

    /// Drains and stops both workers; returns the first worker failure, if any.
    @discardableResult
    public func stop() -> Error? {
        pipelineWorker.stop()
        pipelineWorker.join()
        publisherWorker?.stop()
        publisherWorker?.join()
        return pipelineWorker.failure ?? publisherWorker?.failure
    }

    /// Whether a worker has died (its error is in `failure`).
    public var failure: Error? {
        if pipelineWorker.hasFinished, let e = pipelineWorker.failure { return e }
        if let w = publisherWorker, w.hasFinished, let e = w.failure { return e }
        return nil
    }

    /// Ticks that were built but could not be handed to the publisher.
    public var ticksDropped: UInt64 { sink.inner.dropped.load }
    /// Ticks the configured filters held back.
    public var ticksFiltered: UInt64 { sink.filtered.load + publisherFiltered.load }
    public var kernelDrops: UInt64 { receivers.reduce(0) { $0 + $1.kernelDrops.load } }
    public var datagramsReceived: UInt64 { receivers.reduce(0) { $0 + $1.datagrams.load } }
    /// Whether the pipeline has nothing received but unprocessed.
    public var ingestEmpty: Bool { ingest.count == 0 }
    public var publishRingEmpty: Bool { ticks.count == 0 }
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
