import DSICore
import DSIFeeds
import DSINet

/// A configuration checked and turned into the values the handler runs with.
public struct ValidatedConfig: Sendable {
    public struct Line: Sendable {
        public var name: String
        public var group: IPv4Endpoint
    }

    /// One configured feed, checked.
    public struct Feed: Sendable {
        public var name: String
        public var interface: IPv4Address
        public var lines: [Line]
        public var maxOrders: Int
        public var receiveBuffer: Int
        public var busyPollMicros: Int32
        public var timestamps: Timestamps
        public var recoveryServer: IPv4Endpoint?
        public var recovery: RecoveryPolicy
        /// The name as ticks carry it (8 bytes, space padded).
        public var tickName: Symbol { Symbol(name) }
    }

    /// The file it came from (for messages about it at start).
    public var file: String
    /// Every feed, in the configuration's order (`feeds[i]` in messages).
    public var feeds: [Feed]
    // The first feed's values, for what reads one feed (`dsi ticks --config`, a handler with one feed).
    public var feedName: String { feeds[0].name }
    public var interface: IPv4Address { feeds[0].interface }
    public var lines: [Line] { feeds[0].lines }
    public var maxOrders: Int { feeds[0].maxOrders }
    public var receiveBuffer: Int { feeds[0].receiveBuffer }
    public var timestamps: Timestamps { feeds[0].timestamps }
    public var recoveryServer: IPv4Endpoint? { feeds[0].recoveryServer }
    public var recovery: RecoveryPolicy { feeds[0].recovery }
    public var listen: IPv4Endpoint
    public var certificate: String?
    public var key: String?
    public var stateDirectory: String
    public var maxQueuedBytes: Int
    public var backPressure: BackPressure
    public var ringSlots: Int
    /// Bounds on the publishers' connections, and on what each subscriber may ask.
    public var connectionLimits: ConnectionLimits
    public var subscriberLimits: SubscriberLimits
    /// What happens to a slow subscriber, and how long a conflating one may stay behind.
    public var slowConsumer: TLSPublisher.SlowConsumerPolicy
    public var conflateGraceNanos: UInt64
    /// Mutual TLS's client CA, and the entitlements of client certificates (nil: every client takes everything).
    public var clientCA: String?
    public var entitlements: Entitlements?
    /// The journal's directory (nil: no journal) and the days it keeps.
    public var journal: String?
    public var retentionDays: Int
    public var graph: ProcessingGraph
    /// Where the metrics endpoint listens (`metrics.listen`); nil: none.
    public var metricsListen: IPv4Endpoint? = nil
    /// The admin socket's path (`admin.socket`, or `dsi.sock` in the state directory).
    public var adminSocket: String = ""
    /// `logLevel`, when the configuration sets one.
    public var logLevel: String? = nil
    public var pipelineWorker: WorkerConfig { graph.pipelineWorker }
    /// Every worker once, those that run feeds first.
    public var workers: [WorkerConfig] {
        var seen = Set<String>()
        return (graph.feedWorkers + (graph.branches + graph.natsBranches).compactMap(\.worker)).filter {
            seen.insert($0.name).inserted
        }
    }
    /// The first branch's publisher's worker (the pipeline's when that publisher runs on the feed's worker).
    public var publisherWorker: WorkerConfig { graph.publisherWorker ?? graph.pipelineWorker }
    /// The publish rings the handler allocates: one per branch and worker of the feeds that reach it.
    public var publishRingCount: Int {
        (graph.branches + graph.natsBranches).reduce(0) { count, branch in
            count + Set(branch.feeds.map { graph.feedWorkers[$0].name }).count
        }
    }
    /// Every filter on the first branch, in order (what `dsi ticks --config` applies).
    public var filter: TickFilter { filter(of: graph.branches[0]) }
    /// Every filter on `branch`, in order.
    public func filter(of branch: ProcessingGraph.Branch) -> TickFilter {
        TickFilter(branch.pipelineFilter.conditions + branch.publisherFilter.conditions)
    }
    /// Where a branch's publisher journals: the journal directory, or a directory in it per publish node when there
    /// are several.
    public func journal(of branch: ProcessingGraph.Branch) -> TLSPublisher.JournalOptions? {
        guard let journal else { return nil }
        var options = TLSPublisher.JournalOptions(directory: graph.branches.count > 1 ? "\(journal)/\(branch.publish)" : journal)
        options.retentionDays = retentionDays
        return options
    }
    /// Where a branch's publisher listens.
    public func listen(of branch: ProcessingGraph.Branch) -> IPv4Endpoint { branch.listen ?? listen }
}
