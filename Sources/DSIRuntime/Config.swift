import DSICore
import DSIFeeds
import DSINet
import Foundation
import Yams

/// A handler's configuration (docs/configuration.md): feeds in, the publisher out, and the workers that run them.
public struct HandlerConfig: Codable, Sendable {
    public var feeds: [FeedConfig]
    public var publisher: PublisherConfig
    public var workers: [WorkerConfig]?
    /// Conditions every published tick must meet, in order (gap reports always pass). A shorthand for a graph of
    /// filter nodes on the pipeline's worker; give one or the other.
    public var filters: [FilterConfig]?
    /// The processing graph: nodes (feed, filters, publish) and, under `workers`, which worker runs which.
    public var graph: [NodeConfig]?

    public init(feeds: [FeedConfig], publisher: PublisherConfig, workers: [WorkerConfig]? = nil) {
        self.feeds = feeds
        self.publisher = publisher
        self.workers = workers
    }
}

public struct FeedConfig: Codable, Sendable {
    public var name: String
    /// Only `moldudp64-itch50` for now.
    public var `protocol`: String
    /// The local interface address to join the groups on.
    public var interface: String
    public var lines: [LineConfig]
    /// Most orders live at once over the day: the order table is sized for it up front.
    public var maxOrders: Int?
    /// Kernel receive buffer per line socket, bytes.
    public var receiveBuffer: Int?
    /// `SO_BUSY_POLL` in microseconds (0: off).
    public var busyPollMicros: Int?
    /// Receive timestamps: `software` (the kernel's, default) or `hardware` (the NIC's where it gives them).
    public var timestamps: Timestamps?
    /// The MoldUDP64 re-request server, `address:port` (unicast UDP). Absent: gaps no line fills are reported lost.
    public var recovery: String?
    /// How long other lines get to fill a gap before a re-request, ms.
    public var lineWaitMs: Double?
    /// How long to wait for a re-request reply before asking again, ms.
    public var recoveryTimeoutMs: Double?
    /// Re-requests without progress before a range is reported lost.
    public var recoveryRetries: Int?
    /// Messages asked for in one re-request (a larger range is asked for in pieces, several at once).
    public var requestMessages: Int?
    /// Re-requests awaiting a reply at once.
    public var maxRequestsInFlight: Int?
    /// Re-requests per second at most.
    public var requestsPerSecond: Double?
    /// Bytes of packets held beyond gaps while they are recovered.
    public var holdBytes: Int?
    /// The MoldUDP64 session to follow (up to 10 characters); absent: a new session is believed once confirmed.
    public var session: String?
    /// Where to start in a session joined late: `first` (default), `recover` (from 1), or a sequence number.
    public var join: String?
    /// Packets in a row that confirm a new session or a jump in sequence numbers.
    public var confirmPackets: Int?
    /// Messages beyond the highest sequence seen a packet may start at and still be believed at once (plus what
    /// `maxMessagesPerSecond` carries in the time since the last packet).
    public var sequenceSlack: Int?
    /// The most messages per second the feed can carry.
    public var maxMessagesPerSecond: Int?

    public init(name: String, protocol: String = "moldudp64-itch50", interface: String, lines: [LineConfig]) {
        self.name = name
        self.protocol = `protocol`
        self.interface = interface
        self.lines = lines
    }
}

public struct LineConfig: Codable, Sendable {
    public var name: String
    /// `group:port`, a multicast group.
    public var group: String
    public init(name: String, group: String) {
        self.name = name
        self.group = group
    }
}

public struct PublisherConfig: Codable, Sendable {
    /// `address:port` to listen on.
    public var listen: String
    /// PEM certificate chain; absent: a self-signed certificate is made (and reused) in `stateDirectory`.
    public var certificate: String?
    public var key: String?
    /// Where generated files go; absent: `$DSI_STATE_DIR`, else `$XDG_STATE_HOME/dsi`, else `~/.local/state/dsi`.
    public var stateDirectory: String?
    /// A subscriber further behind than this is disconnected as a slow consumer.
    public var maxQueuedBytes: Int?
    /// When the publish ring is full: `block` (lossless: the pipeline waits) or `drop` (counted).
    public var backPressure: BackPressure?
    /// Slots in the ring from the pipeline to the publisher.
    public var ringSlots: Int?

    public init(listen: String) { self.listen = listen }
}

public enum BackPressure: String, Codable, Sendable { case block, drop }

/// One filter condition: exactly one of `symbols`, `kinds`, `priceBand`.
public struct FilterConfig: Codable, Sendable {
    public var symbols: [String]?
    /// Tick kinds by name: trade, quote, status, tradeBreak.
    public var kinds: [String]?
    public var priceBand: PriceBand?

    public struct PriceBand: Codable, Sendable {
        /// Raw price units (1/10000 dollar), inclusive.
        public var min: UInt32
        public var max: UInt32
    }

    public init(symbols: [String]? = nil, kinds: [String]? = nil, priceBand: PriceBand? = nil) {
        self.symbols = symbols
        self.kinds = kinds
        self.priceBand = priceBand
    }
}

public struct WorkerConfig: Codable, Sendable {
    /// Without a `graph`: `pipeline` (line sockets, arbitration, decode, books, ticks) or `publisher` (TLS sessions).
    /// With one: any name.
    public var name: String
    public var cpu: Int?
    public var idle: IdleStrategyKind?
    /// With a `graph`: the nodes this worker runs.
    public var nodes: [String]?
    public init(name: String, cpu: Int?, idle: IdleStrategyKind?, nodes: [String]? = nil) {
        self.name = name
        self.cpu = cpu
        self.idle = idle
        self.nodes = nodes
    }
}

/// A configuration that cannot be used: names the file, the key and what is wrong.
public struct ConfigError: Error, CustomStringConvertible {
    public let file: String
    public let key: String?
    public let problem: String
    public init(file: String, key: String?, problem: String) {
        self.file = file
        self.key = key
        self.problem = problem
    }
    public var description: String { key.map { "\(file): \($0): \(problem)" } ?? "\(file): \(problem)" }
}

/// A configuration checked and turned into the values the handler runs with.
public struct ValidatedConfig: Sendable {
    public struct Line: Sendable {
        public var name: String
        public var group: IPv4Endpoint
    }
    public var feedName: String
    public var interface: IPv4Address
    public var lines: [Line]
    public var maxOrders: Int
    public var receiveBuffer: Int
    public var busyPollMicros: Int32
    public var timestamps: Timestamps
    public var recoveryServer: IPv4Endpoint?
    public var recovery: RecoveryPolicy
    public var listen: IPv4Endpoint
    public var certificate: String?
    public var key: String?
    public var stateDirectory: String
    public var maxQueuedBytes: Int
    public var backPressure: BackPressure
    public var ringSlots: Int
    public var graph: ProcessingGraph
    public var pipelineWorker: WorkerConfig { graph.pipelineWorker }
    /// The first branch's publisher's worker (the pipeline's when that publisher runs on the feed's worker).
    public var publisherWorker: WorkerConfig { graph.publisherWorker ?? graph.pipelineWorker }
    /// Every filter on the first branch, in order (what `dsi ticks --config` applies).
    public var filter: TickFilter { filter(of: graph.branches[0]) }
    /// Every filter on `branch`, in order.
    public func filter(of branch: ProcessingGraph.Branch) -> TickFilter {
        TickFilter(branch.pipelineFilter.conditions + branch.publisherFilter.conditions)
    }
    /// Where a branch's publisher listens.
    public func listen(of branch: ProcessingGraph.Branch) -> IPv4Endpoint { branch.listen ?? listen }
}

extension HandlerConfig {
    /// Reads and validates a YAML file. Every problem names the file and the key.
    public static func load(path: String) throws -> ValidatedConfig {
        guard FileManager.default.fileExists(atPath: path) else { throw ConfigError(file: path, key: nil, problem: "no such file") }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ConfigError(file: path, key: nil, problem: "cannot read the file: \(error.localizedDescription)")
        }
        guard !data.isEmpty else { throw ConfigError(file: path, key: nil, problem: "the file is empty") }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: path, key: nil, problem: "not UTF-8 text")
        }
        return try load(text: text, file: path)
    }

    /// Parses and validates YAML text; `file` names it in messages.
    public static func load(text: String, file path: String) throws -> ValidatedConfig {
        let config: HandlerConfig
        do {
            config = try YAMLDecoder().decode(HandlerConfig.self, from: text)
        } catch let error as DecodingError {
            if case .dataCorrupted(let context) = error, context.codingPath.isEmpty, let yaml = context.underlyingError {
                throw ConfigError(file: path, key: nil, problem: "invalid YAML: \(yaml)")
            }
            throw ConfigError(file: path, key: error.keyPath, problem: error.problem)
        } catch {
            throw ConfigError(file: path, key: nil, problem: "invalid YAML: \(error)")
        }
        return try config.validated(file: path)
    }

    /// Checks every value; the first problem found is thrown.
    public func validated(file: String) throws -> ValidatedConfig {
        func fail(_ key: String, _ problem: String) -> ConfigError { ConfigError(file: file, key: key, problem: problem) }
        guard feeds.count == 1 else {
            throw fail("feeds", feeds.isEmpty ? "at least one feed is required" : "one feed per handler is supported for now (\(feeds.count) given)")
        }
        let feed = feeds[0]
        guard feed.protocol == "moldudp64-itch50" else {
            throw fail("feeds[0].protocol", "unknown protocol '\(feed.protocol)' (supported: moldudp64-itch50)")
        }
        guard let interface = IPv4Address(feed.interface) else {
            throw fail("feeds[0].interface", "'\(feed.interface)' is not an IPv4 address")
        }
        guard !feed.lines.isEmpty else { throw fail("feeds[0].lines", "at least one line is required") }
        var lines: [ValidatedConfig.Line] = []
        var seen = Set<String>()
        for (i, line) in feed.lines.enumerated() {
            guard let group = IPv4Endpoint(line.group), group.address.isMulticast, group.port != 0 else {
                throw fail("feeds[0].lines[\(i)].group", "'\(line.group)' is not a multicast group:port (224.0.0.0/4, port 1-65535)")
            }
            guard seen.insert(line.name).inserted else { throw fail("feeds[0].lines[\(i)].name", "duplicate line name '\(line.name)'") }
            lines.append(.init(name: line.name, group: group))
        }
        guard let listen = IPv4Endpoint(publisher.listen) else {
            throw fail("publisher.listen", "'\(publisher.listen)' is not an address:port")
        }
        if (publisher.certificate == nil) != (publisher.key == nil) {
            throw fail(publisher.certificate == nil ? "publisher.certificate" : "publisher.key",
                       "give both certificate and key, or neither (for a self-signed one)")
        }
        let maxOrders = feed.maxOrders ?? 1_000_000
        guard maxOrders > 0 && maxOrders <= 1 << 30 else { throw fail("feeds[0].maxOrders", "must be between 1 and 2^30") }
        var recovery = RecoveryPolicy()
        recovery.lines = lines.count
        var recoveryServer: IPv4Endpoint? = nil
        if let server = feed.recovery {
            guard let endpoint = IPv4Endpoint(server), endpoint.port != 0, !endpoint.address.isMulticast else {
                throw fail("feeds[0].recovery", "'\(server)' is not a unicast address:port")
            }
            recoveryServer = endpoint
            recovery.hasServer = true
        }
        if let ms = feed.lineWaitMs {
            guard ms >= 0 && ms <= 10_000 else { throw fail("feeds[0].lineWaitMs", "must be between 0 and 10000") }
            recovery.lineWaitNanos = UInt64(ms * 1e6)
        }
        if let ms = feed.recoveryTimeoutMs {
            guard ms > 0 && ms <= 60_000 else { throw fail("feeds[0].recoveryTimeoutMs", "must be between 0 and 60000") }
            recovery.requestTimeoutNanos = UInt64(ms * 1e6)
        }
        if let retries = feed.recoveryRetries {
            guard retries >= 1 && retries <= 100 else { throw fail("feeds[0].recoveryRetries", "must be between 1 and 100") }
            recovery.maxRetries = retries
        }
        if let n = feed.requestMessages {
            guard n >= 1 && n <= 65_535 else { throw fail("feeds[0].requestMessages", "must be between 1 and 65535") }
            recovery.requestMessages = UInt16(n)
        }
        if let n = feed.maxRequestsInFlight {
            guard n >= 1 && n <= 4_096 else { throw fail("feeds[0].maxRequestsInFlight", "must be between 1 and 4096") }
            recovery.maxRequestsInFlight = n
        }
        if let rate = feed.requestsPerSecond {
            guard rate >= 1 && rate <= 1_000_000 else { throw fail("feeds[0].requestsPerSecond", "must be between 1 and 1000000") }
            recovery.requestsPerSecond = rate
        }
        if let bytes = feed.holdBytes {
            guard bytes >= PendingPackets.slotSize * 16 && bytes <= 16 << 30 else {
                throw fail("feeds[0].holdBytes", "must be between \(PendingPackets.slotSize * 16) and 17179869184 (16 GiB)")
            }
            recovery.holdBytes = bytes
        }
        if let name = feed.session {
            guard !name.isEmpty, let key = SessionKey(name) else {
                throw fail("feeds[0].session", "'\(name)' is not a MoldUDP64 session name (1 to 10 printable ASCII characters)")
            }
            recovery.pinnedSession = key
        }
        if let join = feed.join {
            guard let policy = JoinPolicy(join) else {
                throw fail("feeds[0].join", "'\(join)' is not a join policy: first, recover, or a sequence number from 1")
            }
            recovery.join = policy
        }
        if let n = feed.confirmPackets {
            guard n >= 1 && n <= 64 else { throw fail("feeds[0].confirmPackets", "must be between 1 and 64") }
            recovery.confirmPackets = n
        }
        if let n = feed.sequenceSlack {
            guard n >= 1 && n <= 1 << 40 else { throw fail("feeds[0].sequenceSlack", "must be between 1 and 2^40") }
            recovery.sequenceSlack = UInt64(n)
        }
        if let n = feed.maxMessagesPerSecond {
            guard n >= 1_000 && n <= 1_000_000_000 else {
                throw fail("feeds[0].maxMessagesPerSecond", "must be between 1000 and 1000000000")
            }
            recovery.maxMessagesPerSecond = UInt64(n)
        }
        let ringSlots = publisher.ringSlots ?? 65_536
        guard ringSlots >= 64 && ringSlots <= 1 << 24 else { throw fail("publisher.ringSlots", "must be between 64 and 2^24") }
        for (i, worker) in (workers ?? []).enumerated() {
            if let cpu = worker.cpu, CDSIShimsBridge.cpuIsAllowed(cpu) == false {
                throw fail("workers[\(i)].cpu", "CPU \(cpu) does not exist or is not available to this process")
            }
        }
        var graph: ProcessingGraph
        if let nodes = self.graph {
            guard filters == nil else { throw fail("filters", "give filters as nodes of the graph when there is a graph") }
            graph = try ProcessingGraph.validate(nodes: nodes, workers: workers ?? [], file: file)
        } else {
            graph = try defaultGraph(fail: fail)
        }
        func nodeKey(_ name: String) -> String {
            let i = (self.graph ?? []).firstIndex { $0.name == name } ?? 0
            return "graph[\(i)] (node '\(name)')"
        }
        // A publish node's own choice wins over publisher.backPressure.
        for (b, branch) in graph.branches.enumerated() {
            let given = branch.backPressureGiven ?? publisher.backPressure
            if branch.worker == nil {
                // One thread fills and drains the ring: waiting on a full ring would wait for itself.
                guard given != .block else {
                    throw fail(branch.backPressureGiven == nil ? "publisher.backPressure" : "\(nodeKey(branch.publish)).options.backPressure",
                               "block needs the publisher on a worker of its own (the feed's worker runs '\(branch.publish)' here)")
                }
                graph.branches[b].backPressure = .drop
            } else {
                graph.branches[b].backPressure = given ?? .block
            }
        }
        // One publisher per address: the same port twice on one address, or on the wildcard and any other, is refused
        // here rather than by bind at start.
        var bound: [(endpoint: IPv4Endpoint, publish: String)] = []
        for branch in graph.branches {
            let endpoint = branch.listen ?? listen
            if endpoint.port != 0, let other = bound.first(where: {
                $0.endpoint.port == endpoint.port
                    && ($0.endpoint.address == endpoint.address || $0.endpoint.address.value == 0 || endpoint.address.value == 0)
            }) {
                throw fail(branch.listen == nil ? "publisher.listen" : "\(nodeKey(branch.publish)).options.listen",
                           "\(endpoint) is also where '\(other.publish)' listens (\(other.endpoint))")
            }
            bound.append((endpoint, branch.publish))
        }
        let backPressure = graph.backPressure
        return ValidatedConfig(
            feedName: feed.name, interface: interface, lines: lines, maxOrders: maxOrders,
            receiveBuffer: feed.receiveBuffer ?? 16 << 20, busyPollMicros: Int32(feed.busyPollMicros ?? 0),
            timestamps: feed.timestamps ?? .software,
            recoveryServer: recoveryServer, recovery: recovery,
            listen: listen, certificate: publisher.certificate, key: publisher.key,
            stateDirectory: publisher.stateDirectory ?? Self.defaultStateDirectory,
            maxQueuedBytes: publisher.maxQueuedBytes ?? 8 << 20, backPressure: backPressure,
            ringSlots: ringSlots, graph: graph)
    }

    /// Without `graph:`: feed → the `filters:` chain → publish, on workers named `pipeline` and `publisher`.
    func defaultGraph(fail: (String, String) -> ConfigError) throws -> ProcessingGraph {
        var pipeline = WorkerConfig(name: "pipeline", cpu: 0, idle: .backoff)
        var publisherWorker = WorkerConfig(name: "publisher", cpu: ProcessInfo.processInfo.activeProcessorCount > 1 ? 1 : 0, idle: .backoff)
        for (i, worker) in (workers ?? []).enumerated() {
            guard worker.nodes == nil else { throw fail("workers[\(i)].nodes", "nodes are placed only when there is a graph") }
            switch worker.name {
            case "pipeline": pipeline = WorkerConfig(name: "pipeline", cpu: worker.cpu, idle: worker.idle ?? .backoff)
            case "publisher": publisherWorker = WorkerConfig(name: "publisher", cpu: worker.cpu, idle: worker.idle ?? .backoff)
            default: throw fail("workers[\(i)].name", "unknown worker '\(worker.name)' (pipeline, publisher; or give a graph)")
            }
        }
        let filter = try Self.filter(filters ?? [], fail: fail)
        let branch = ProcessingGraph.Branch(
            chain: ["feed"] + (filters ?? []).indices.map { "filter\($0)" } + ["publish"],
            pipelineFilter: filter, publisherFilter: TickFilter(), backPressureGiven: nil, backPressure: .block,
            worker: publisherWorker, listen: nil)
        return ProcessingGraph(branches: [branch], pipelineWorker: pipeline)
    }

    /// Turns `filters:` into a tick filter; each entry must name exactly one condition.
    static func filter(_ entries: [FilterConfig], fail: (String, String) -> ConfigError) throws -> TickFilter {
        var conditions: [TickFilter.Condition] = []
        for (i, entry) in entries.enumerated() {
            let key = "filters[\(i)]"
            let given = [entry.symbols != nil, entry.kinds != nil, entry.priceBand != nil].filter { $0 }.count
            guard given == 1 else { throw fail(key, "give exactly one of symbols, kinds, priceBand") }
            if let symbols = entry.symbols {
                guard !symbols.isEmpty, symbols.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 8 && $0.allSatisfy(\.isASCII) }) else {
                    throw fail(key + ".symbols", "a non-empty list of symbols of 1 to 8 ASCII characters")
                }
                conditions.append(TickFilter.symbols(symbols))
            } else if let names = entry.kinds {
                var kinds = Set<Tick.Kind>()
                for name in names {
                    guard let kind = Tick.Kind(name: name) else {
                        throw fail(key + ".kinds", "unknown tick kind '\(name)' (trade, quote, status, tradeBreak)")
                    }
                    kinds.insert(kind)
                }
                guard !kinds.isEmpty else { throw fail(key + ".kinds", "an empty list lets nothing through") }
                conditions.append(.kinds(kinds))
            } else if let band = entry.priceBand {
                guard band.min <= band.max else { throw fail(key + ".priceBand", "min \(band.min) is above max \(band.max)") }
                conditions.append(.priceBand(min: band.min, max: band.max))
            }
        }
        return TickFilter(conditions)
    }

    public static var defaultStateDirectory: String {
        let env = ProcessInfo.processInfo.environment
        if let dir = env["DSI_STATE_DIR"], !dir.isEmpty { return dir }
        if let dir = env["XDG_STATE_HOME"], !dir.isEmpty { return dir + "/dsi" }
        return (env["HOME"] ?? "/tmp") + "/.local/state/dsi"
    }
}

extension DecodingError {
    /// `feeds[0].lines[1].group` style path of the failing key.
    var keyPath: String {
        let path: [CodingKey]
        switch self {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c): path = c.codingPath
        case .keyNotFound(let key, let c): path = c.codingPath + [key]
        @unknown default: path = []
        }
        var out = ""
        for key in path {
            if let index = key.intValue { out += "[\(index)]" } else { out += out.isEmpty ? key.stringValue : "." + key.stringValue }
        }
        return out.isEmpty ? "(top level)" : out
    }

    var problem: String {
        switch self {
        case .typeMismatch(let type, _): "expected \(type)"
        case .valueNotFound(let type, _): "missing value (expected \(type))"
        case .keyNotFound: "required key is missing"
        case .dataCorrupted(let c): c.debugDescription
        @unknown default: "invalid"
        }
    }
}
