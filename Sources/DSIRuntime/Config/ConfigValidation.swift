import DSICore
import DSIFeeds
import DSINet
import Foundation
import Yams

extension HandlerConfig {
    /// Checks every value; the first problem found is thrown. A configuration built in code is held to the schema
    /// as a YAML file is (`ConfigCheck`, on the YAML it would be written as): keys, ranges, choices.
    public func validated(file: String) throws -> ValidatedConfig {
        if let node = try Yams.compose(yaml: YAMLEncoder().encode(self)) {
            try ConfigCheck.check(node, as: HandlerConfig.self, path: "", file: file)
        }
        return try validatedValues(file: file)
    }

    /// Checks the values together; the schema was checked already (`load` checks the YAML itself, before decoding).
    /// What the machine can give (`MachineLimits`) is checked by what starts a handler, not by every reader of a
    /// configuration (`dsi ticks --config` takes only its filters).
    func validatedValues(file: String) throws -> ValidatedConfig {
        func fail(_ key: String, _ problem: String) -> ConfigError { ConfigError(file: file, key: key, problem: problem) }
        guard !feeds.isEmpty else { throw fail("feeds", "at least one feed is required") }
        var checked: [ValidatedConfig.Feed] = []
        // Each group is one feed's line: two lines (of one feed or two) on one group would each get every datagram.
        var groups: [IPv4Endpoint: String] = [:]
        for (f, feed) in feeds.enumerated() {
            let checkedFeed = try Self.validated(feed, key: "feeds[\(f)]", fail: fail)
            if let other = checked.firstIndex(where: { $0.name == feed.name }) {
                throw fail("feeds[\(f)].name", "duplicate feed name '\(feed.name)' (also feeds[\(other)])")
            }
            for (i, line) in checkedFeed.lines.enumerated() {
                if let other = groups.updateValue("feeds[\(f)].lines[\(i)]", forKey: line.group) {
                    throw fail("feeds[\(f)].lines[\(i)].group", "\(line.group) is also \(other)'s group")
                }
            }
            checked.append(checkedFeed)
        }
        guard let listen = IPv4Endpoint(publisher.listen) else {
            throw fail("publisher.listen", "'\(publisher.listen)' is not an address:port")
        }
        if (publisher.certificate == nil) != (publisher.key == nil) {
            throw fail(
                publisher.certificate == nil ? "publisher.certificate" : "publisher.key",
                "give both certificate and key, or neither (for a self-signed one)")
        }
        let ringSlots = publisher.ringSlots ?? 65_536
        for (i, worker) in (workers ?? []).enumerated() {
            if let cpu = worker.cpu, CDSIShimsBridge.cpuIsAllowed(cpu) == false {
                throw fail("workers[\(i)].cpu", "CPU \(cpu) does not exist or is not available to this process")
            }
        }
        var graph: ProcessingGraph
        if let nodes = self.graph {
            guard filters == nil else { throw fail("filters", "give filters as nodes of the graph when there is a graph") }
            graph = try ProcessingGraph.validate(nodes: nodes, feeds: feeds.map(\.name), workers: workers ?? [], file: file)
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
                    throw fail(
                        branch.backPressureGiven == nil
                            ? "publisher.backPressure" : "\(nodeKey(branch.publish)).options.backPressure",
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
            if endpoint.port != 0,
                let other = bound.first(where: {
                    $0.endpoint.port == endpoint.port
                        && ($0.endpoint.address == endpoint.address || $0.endpoint.address.value == 0
                            || endpoint.address.value == 0)
                })
            {
                throw fail(
                    branch.listen == nil ? "publisher.listen" : "\(nodeKey(branch.publish)).options.listen",
                    "\(endpoint) is also where '\(other.publish)' listens (\(other.endpoint))")
            }
            bound.append((endpoint, branch.publish))
        }
        let backPressure = graph.backPressure
        var limits = ConnectionLimits()
        if let n = publisher.maxConnections { limits.maxConnections = n }
        if let n = publisher.maxConnectionsPerAddress { limits.maxPerAddress = n }
        if let n = publisher.maxHandshakes { limits.maxHandshakes = n }
        if let ms = publisher.handshakeTimeoutMs { limits.handshakeTimeoutNanos = UInt64(ms * 1e6) }
        if let n = publisher.logLinesPerSecond { limits.logLinesPerSecond = n }
        let entitlements = try Self.entitlements(publisher, file: file)
        var subscriberLimits = SubscriberLimits()
        if let n = publisher.maxSymbolsPerSubscriber { subscriberLimits.maxSymbols = n }
        var validated = ValidatedConfig(
            file: file, feeds: checked, listen: listen, certificate: publisher.certificate, key: publisher.key,
            stateDirectory: publisher.stateDirectory ?? Self.defaultStateDirectory,
            maxQueuedBytes: publisher.maxQueuedBytes ?? 8 << 20, backPressure: backPressure,
            ringSlots: ringSlots, connectionLimits: limits, subscriberLimits: subscriberLimits,
            slowConsumer: publisher.slowConsumer ?? .disconnect,
            conflateGraceNanos: UInt64((publisher.conflateGraceMs ?? 10_000) * 1e6),
            clientCA: publisher.clientCA, entitlements: entitlements,
            journal: publisher.journal, retentionDays: publisher.retention ?? 5,
            graph: graph)
        validated.metricsListen = try metricsEndpoint(bound: bound, fail: fail)
        validated.adminSocket = admin?.socket ?? validated.stateDirectory + "/dsi.sock"
        // sockaddr_un holds 107 bytes of path.
        guard !validated.adminSocket.isEmpty, validated.adminSocket.utf8.count <= 107 else {
            throw fail(
                admin?.socket == nil ? "publisher.stateDirectory" : "admin.socket",
                "the admin socket's path '\(validated.adminSocket)' is longer than a Unix socket path may be (107 bytes)")
        }
        validated.logLevel = logLevel
        return validated
    }

    /// One feed's values, checked; `key` is its place (`feeds[1]`) for messages.
    static func validated(_ feed: FeedConfig, key: String, fail: (String, String) -> ConfigError) throws
        -> ValidatedConfig.Feed
    {
        // The name travels in every tick (8 bytes of the binary form) and in NATS subjects: short, and no dots,
        // spaces or wildcards.
        guard (1...8).contains(feed.name.utf8.count),
            feed.name.unicodeScalars.allSatisfy({
                $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == "_")
            })
        else {
            throw fail(
                "\(key).name",
                "'\(feed.name)' is not a feed name: 1 to 8 characters of letters, digits, - and _ (ticks carry it in 8 bytes)")
        }
        guard feed.protocol == "moldudp64-itch50" else {
            throw fail("\(key).protocol", "unknown protocol '\(feed.protocol)' (supported: moldudp64-itch50)")
        }
        guard let interface = IPv4Address(feed.interface) else {
            throw fail("\(key).interface", "'\(feed.interface)' is not an IPv4 address")
        }
        guard !feed.lines.isEmpty else { throw fail("\(key).lines", "at least one line is required") }
        var lines: [ValidatedConfig.Line] = []
        var seen = Set<String>()
        for (i, line) in feed.lines.enumerated() {
            guard let group = IPv4Endpoint(line.group), group.address.isMulticast, group.port != 0 else {
                throw fail(
                    "\(key).lines[\(i)].group", "'\(line.group)' is not a multicast group:port (224.0.0.0/4, port 1-65535)")
            }
            guard seen.insert(line.name).inserted else {
                throw fail("\(key).lines[\(i)].name", "duplicate line name '\(line.name)'")
            }
            lines.append(.init(name: line.name, group: group))
        }
        let maxOrders = feed.maxOrders ?? 1_000_000
        var recovery = RecoveryPolicy()
        recovery.lines = lines.count
        var recoveryServer: IPv4Endpoint? = nil
        if let server = feed.recovery {
            guard let endpoint = IPv4Endpoint(server), endpoint.port != 0, !endpoint.address.isMulticast else {
                throw fail("\(key).recovery", "'\(server)' is not a unicast address:port (for example 10.1.2.3:18000)")
            }
            recoveryServer = endpoint
            recovery.hasServer = true
        }
        if let ms = feed.lineWaitMs { recovery.lineWaitNanos = UInt64(ms * 1e6) }
        if let ms = feed.maxLineLagMs { recovery.maxLineLagNanos = UInt64(ms * 1e6) }
        if let ms = feed.recoveryTimeoutMs { recovery.requestTimeoutNanos = UInt64(ms * 1e6) }
        if let n = feed.recoveryRetries { recovery.maxRetries = n }
        if let n = feed.requestMessages { recovery.requestMessages = UInt16(n) }
        if let n = feed.maxRequestsInFlight { recovery.maxRequestsInFlight = n }
        if let rate = feed.requestsPerSecond { recovery.requestsPerSecond = rate }
        if let bytes = feed.holdBytes { recovery.holdBytes = bytes }
        if let n = feed.confirmPackets { recovery.confirmPackets = n }
        if let n = feed.sequenceSlack { recovery.sequenceSlack = UInt64(n) }
        if let n = feed.maxMessagesPerSecond { recovery.maxMessagesPerSecond = UInt64(n) }
        if let name = feed.session {
            guard !name.isEmpty, let key = SessionKey(name) else {
                throw fail("\(key).session", "'\(name)' is not a MoldUDP64 session name (1 to 10 printable ASCII characters)")
            }
            recovery.pinnedSession = key
        }
        if let join = feed.join {
            guard let policy = JoinPolicy(join) else {
                throw fail(
                    "\(key).join", "'\(join)' is not a join policy; expected first, recover, or a sequence number from 1")
            }
            recovery.join = policy
        }
        return ValidatedConfig.Feed(
            name: feed.name, interface: interface, lines: lines, maxOrders: maxOrders,
            receiveBuffer: feed.receiveBuffer ?? FeedConfig.defaultReceiveBuffer,
            busyPollMicros: Int32(feed.busyPollMicros ?? 0), timestamps: feed.timestamps ?? .software,
            recoveryServer: recoveryServer, recovery: recovery)
    }

    /// `metrics.listen`, checked: an address and a port no publisher listens on (port 0 takes a free one).
    func metricsEndpoint(bound: [(endpoint: IPv4Endpoint, publish: String)], fail: (String, String) -> ConfigError) throws
        -> IPv4Endpoint?
    {
        guard let metrics else { return nil }
        guard let endpoint = IPv4Endpoint(metrics.listen) else {
            throw fail("metrics.listen", "'\(metrics.listen)' is not HOST:PORT (an IPv4 address and a port)")
        }
        if endpoint.port != 0,
            let other = bound.first(where: {
                $0.endpoint.port == endpoint.port
                    && ($0.endpoint.address == endpoint.address || $0.endpoint.address.value == 0 || endpoint.address.value == 0)
            })
        {
            throw fail("metrics.listen", "\(endpoint) is also where '\(other.publish)' listens (\(other.endpoint))")
        }
        return endpoint
    }

    /// Without `graph:`: the feed → the `filters:` chain → publish, on workers named `pipeline` and `publisher`.
    func defaultGraph(fail: (String, String) -> ConfigError) throws -> ProcessingGraph {
        var pipeline = WorkerConfig(name: "pipeline", cpu: 0, idle: .backoff)
        var publisherWorker = WorkerConfig(
            name: "publisher", cpu: ProcessInfo.processInfo.activeProcessorCount > 1 ? 1 : 0, idle: .backoff)
        for (i, worker) in (workers ?? []).enumerated() {
            guard worker.nodes == nil else { throw fail("workers[\(i)].nodes", "nodes are placed only when there is a graph") }
            switch worker.name {
            case "pipeline": pipeline = WorkerConfig(name: "pipeline", cpu: worker.cpu, idle: worker.idle ?? .backoff)
            case "publisher": publisherWorker = WorkerConfig(name: "publisher", cpu: worker.cpu, idle: worker.idle ?? .backoff)
            default: throw fail("workers[\(i)].name", "unknown worker '\(worker.name)' (pipeline, publisher; or give a graph)")
            }
        }
        guard feeds.count == 1 else {
            throw fail(
                "feeds",
                "\(feeds.count) feeds need a graph: a publish node serves one feed, so give each feed's node a publish node with its own listen address"
            )
        }
        let filter = try Self.filter(filters ?? [], fail: fail)
        let filterNodes = (filters ?? []).indices.map { "filter\($0)" }
        let path = ProcessingGraph.Path(
            feed: 0, chain: ["feed"] + filterNodes + ["publish"], pipelineFilter: filter, publisherFilter: TickFilter())
        let branch = ProcessingGraph.Branch(
            paths: [path], backPressureGiven: nil, backPressure: .block, worker: publisherWorker, listen: nil)
        return ProcessingGraph(branches: [branch], feedWorkers: [pipeline])
    }

    /// Turns `filters:` into a tick filter; each entry must name exactly one condition.
    static func filter(_ entries: [FilterConfig], fail: (String, String) -> ConfigError) throws -> TickFilter {
        var conditions: [TickFilter.Condition] = []
        for (i, entry) in entries.enumerated() {
            let key = "filters[\(i)]"
            let given = [entry.symbols != nil, entry.kinds != nil, entry.priceBand != nil].filter { $0 }.count
            guard given == 1 else { throw fail(key, "give exactly one of symbols, kinds, priceBand") }
            if let symbols = entry.symbols {
                guard !symbols.isEmpty, symbols.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 8 && $0.allSatisfy(\.isASCII) })
                else {
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

    /// The publisher's entitlements, checked: each names a subject (`CN=NAME`) or a subjectAltName, and they need
    /// client certificates to be matched against.
    static func entitlements(_ publisher: PublisherConfig, file: String) throws -> Entitlements? {
        guard let list = publisher.entitlements else { return nil }
        func fail(_ key: String, _ problem: String) -> ConfigError { ConfigError(file: file, key: key, problem: problem) }
        guard publisher.clientCA != nil else {
            throw fail(
                "publisher.entitlements", "needs publisher.clientCA: without client certificates no client can be told apart")
        }
        var entries: [Entitlements.Entry] = []
        // A client named twice would get whichever entry matched first: a typo an operator would never see.
        var named: [String: String] = [:]
        for (i, e) in list.enumerated() {
            let key = "publisher.entitlements[\(i)]"
            guard e.subject != nil || e.san != nil else { throw fail(key, "names no client: give subject (CN=NAME) or san") }
            if let subject = e.subject {
                guard subject.hasPrefix("CN="), subject.count > 3 else {
                    throw fail("\(key).subject", "'\(subject)' is not CN=NAME")
                }
                if let other = named[subject] { throw fail("\(key).subject", "\(subject) is already given by \(other)") }
                named[subject] = key
            }
            if let san = e.san {
                guard !san.isEmpty, !san.contains(where: \.isWhitespace) else {
                    throw fail("\(key).san", "'\(san)' is not a DNS name")
                }
                if let other = named["DNS:" + san] { throw fail("\(key).san", "\(san) is already given by \(other)") }
                named["DNS:" + san] = key
            }
            var kinds = TickSelection.Kinds.all
            if let names = e.kinds {
                var given: [Tick.Kind] = []
                for name in names {
                    // An unknown kind dropped quietly would narrow (or, alone, void) what the client was meant to see.
                    guard let kind = Tick.Kind(name: name) else {
                        throw fail("\(key).kinds", "unknown tick kind '\(name)' (trade, quote, status, tradeBreak)")
                    }
                    given.append(kind)
                }
                guard !given.isEmpty else { throw fail("\(key).kinds", "is empty (leave it out for every kind)") }
                kinds = TickSelection.Kinds(given)
            }
            if let symbols = e.symbols {
                guard !symbols.isEmpty else { throw fail("\(key).symbols", "is empty (leave it out for every symbol)") }
                if let bad = symbols.first(where: { $0.isEmpty || $0.utf8.count > 8 || !$0.allSatisfy(\.isASCII) }) {
                    throw fail("\(key).symbols", "'\(bad)' is not a symbol of 1 to 8 ASCII characters")
                }
            }
            entries.append(.init(subject: e.subject, san: e.san, allowed: TickSelection(symbols: e.symbols, kinds: kinds)))
        }
        return Entitlements(entries)
    }
}
