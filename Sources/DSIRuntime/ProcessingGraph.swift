import DSICore
import DSIFeeds

/// A checked graph, laid out on the workers. It is a tree from the one feed to one or more publish nodes: each path
/// from the feed to a publish node is a branch with its own publish ring and publisher. The feed's worker runs the
/// feed and, for each branch, the filters that share its worker; the ring joins them to the branch's publisher, on
/// the feed's worker or another, where the branch's remaining filters run before its stream is numbered.
public struct ProcessingGraph: Sendable {
    /// One path from the feed to a publish node, as laid out.
    public struct Branch: Sendable {
        /// Node names from the feed to the publish node.
        public var chain: [String]
        /// The branch's filters on the feed's worker (before its ring), and on its publisher's worker (after).
        public var pipelineFilter: TickFilter
        public var publisherFilter: TickFilter
        /// The publish node's own choice, if it made one (the config settles the rest).
        public var backPressureGiven: BackPressure?
        /// What the ring in front of the publisher does when full (settled by the config's validation).
        public var backPressure: BackPressure
        /// The publisher's worker; nil when it is the feed's.
        public var worker: WorkerConfig?
        /// Where the publisher listens; nil takes `publisher.listen`.
        public var listen: IPv4Endpoint?
        /// The publish node's name.
        public var publish: String { chain.last! }
    }

    public var branches: [Branch]
    public var pipelineWorker: WorkerConfig
    /// On the feed's worker, with publishers there too: which stage the duty cycle favours (`first` the feed's,
    /// `second` the publishers'); nil when all run every cycle.
    public var favoured: FavouredAgent? = nil

    // The first branch, for graphs with one publisher (the usual case, and every graph without `graph:`).
    public var chain: [String] { branches[0].chain }
    public var pipelineFilter: TickFilter { branches[0].pipelineFilter }
    public var publisherFilter: TickFilter { branches[0].publisherFilter }
    public var backPressure: BackPressure { branches[0].backPressure }
    /// The first branch's publisher's worker; nil: the feed's worker runs it.
    public var publisherWorker: WorkerConfig? { branches[0].worker }

    public static let kinds = ["feed", "filter", "publish"]

    /// Checks `nodes` and their placement on `workers`; every problem names the file, the node and what is wrong.
    static func validate(nodes: [NodeConfig], workers: [WorkerConfig], file: String) throws -> ProcessingGraph {
        func fail(_ key: String, _ problem: String) -> ConfigError { ConfigError(file: file, key: key, problem: problem) }
        var index: [String: Int] = [:]
        for (i, node) in nodes.enumerated() {
            if let first = index[node.name] {
                throw fail("graph[\(i)]", "duplicate node name '\(node.name)' (also graph[\(first)])")
            }
            index[node.name] = i
            guard kinds.contains(node.kind) else {
                throw fail("graph[\(i)] (node '\(node.name)')", "unknown kind '\(node.kind)' (\(kinds.joined(separator: ", ")))")
            }
        }
        func key(_ name: String) -> String { "graph[\(index[name]!)] (node '\(name)')" }
        for node in nodes {
            if node.kind == "feed" {
                if let input = node.input { throw fail(key(node.name), "a feed takes no input (has '\(input)')") }
            } else {
                guard let input = node.input else { throw fail(key(node.name), "needs an input") }
                guard index[input] != nil else { throw fail(key(node.name), "unknown input '\(input)'") }
            }
            if node.kind != "publish", let options = node.options, options.listen != nil || options.backPressure != nil {
                throw fail("\(key(node.name)).options", "listen and backPressure are a publish node's options")
            }
        }
        var workerNames: [String: Int] = [:]
        for (w, worker) in workers.enumerated() {
            if let other = workerNames.updateValue(w, forKey: worker.name) {
                throw fail("workers[\(w)].name", "duplicate worker name '\(worker.name)' (also workers[\(other)])")
            }
        }
        // Each node has at most one input, so following inputs from any node either reaches a feed or loops.
        for node in nodes {
            var path = [node.name]
            var current = node
            while let input = current.input, let next = index[input] {
                if let start = path.firstIndex(of: input) {
                    let loop = path[start...] + [input]
                    throw fail("graph", "cycle: \(loop.reversed().joined(separator: " → "))")
                }
                path.append(input)
                current = nodes[next]
            }
        }
        let feeds = nodes.filter { $0.kind == "feed" }, publishers = nodes.filter { $0.kind == "publish" }
        guard feeds.count == 1 else { throw fail("graph", "exactly one feed node is supported (\(feeds.count) given)") }
        guard !publishers.isEmpty else { throw fail("graph", "at least one publish node is needed") }
        var consumers: [String: [String]] = [:]
        for node in nodes { if let input = node.input { consumers[input, default: []].append(node.name) } }
        if let end = publishers.first(where: { consumers[$0.name] != nil }) {
            throw fail(key(end.name), "a publish node is an end, but '\(consumers[end.name]![0])' takes its ticks")
        }
        // One branch per publish node: its path back to the feed.
        var chains: [[String]] = []
        for publish in publishers {
            var chain: [String] = []
            var current: NodeConfig? = publish
            while let node = current {
                chain.insert(node.name, at: 0)
                current = node.input.map { nodes[index[$0]!] }
            }
            chains.append(chain)
        }
        if let stray = nodes.first(where: { node in !chains.contains { $0.contains(node.name) } }) {
            throw fail(key(stray.name), "is not on a path from the feed to a publisher")
        }

        // Placement: every node on exactly one worker.
        var placed: [String: Int] = [:]
        for (w, worker) in workers.enumerated() {
            for name in worker.nodes ?? [] {
                guard index[name] != nil else { throw fail("workers[\(w)].nodes", "unknown node '\(name)'") }
                if let other = placed[name] { throw fail("workers[\(w)].nodes", "node '\(name)' is also on workers[\(other)]") }
                placed[name] = w
            }
        }
        if let orphan = nodes.first(where: { placed[$0.name] == nil }) {
            throw fail(key(orphan.name), "is on no worker (list it under a worker's nodes)")
        }
        let feed = feeds[0]
        let feedWorker = placed[feed.name]!
        // A node that feeds several branches is before their rings: it runs on the feed's worker.
        if let shared = nodes.first(where: { (consumers[$0.name]?.count ?? 0) > 1 && placed[$0.name] != feedWorker }) {
            throw fail(
                key(shared.name),
                "feeds \(consumers[shared.name]!.count) branches, so it runs on the feed's worker (workers[\(feedWorker)])")
        }

        func filter(_ names: ArraySlice<String>) throws -> TickFilter {
            var conditions: [TickFilter.Condition] = []
            for name in names where nodes[index[name]!].kind == "filter" {
                let o = nodes[index[name]!].options ?? NodeOptions()
                let entry = FilterConfig(symbols: o.symbols, kinds: o.kinds, priceBand: o.priceBand)
                conditions += try HandlerConfig.filter([entry]) { _, problem in
                    ConfigError(file: file, key: "\(key(name)).options", problem: problem)
                }.conditions
            }
            return TickFilter(conditions)
        }
        if let filtered = nodes.first(where: { $0.kind == "filter" && $0.priority != nil }) {
            throw fail(
                "\(key(filtered.name)).priority",
                "a filter runs inside its worker's stage: give the priority to the feed or publish node")
        }
        if let node = nodes.first(where: { ($0.priority ?? 0) < 0 }) {
            throw fail("\(key(node.name)).priority", "must be 0 or more (is \(node.priority!))")
        }

        var branches: [Branch] = []
        var usesDefaultListen: String? = nil
        for chain in chains {
            let publish = nodes[index[chain.last!]!]
            let publishWorker = placed[publish.name]!
            // Along the path: the feed's worker first, then the publisher's, each a contiguous run.
            let switchAt = chain.firstIndex { placed[$0] != feedWorker } ?? chain.count
            if let wrong = chain[switchAt...].first(where: { placed[$0] != publishWorker }) {
                throw fail(
                    key(wrong),
                    "is on workers[\(placed[wrong]!)], but the nodes between the feed and the publisher must stay on the feed's worker and then the publisher's, in order"
                )
            }
            if publishWorker != feedWorker && publish.priority != nil {
                throw fail(
                    "\(key(publish.name)).priority",
                    "priority orders stages that share a worker: '\(feed.name)' and '\(publish.name)' are on different workers")
            }
            var listen: IPv4Endpoint? = nil
            if let text = publish.options?.listen {
                guard let endpoint = IPv4Endpoint(text) else {
                    throw fail("\(key(publish.name)).options.listen", "'\(text)' is not an address:port")
                }
                listen = endpoint  // clashes with the others are checked with publisher.listen (HandlerConfig)
            } else if let other = usesDefaultListen {
                throw fail(
                    "\(key(publish.name)).options.listen",
                    "needed: '\(other)' already listens on publisher.listen (one publisher per address)")
            } else {
                usesDefaultListen = publish.name
            }
            branches.append(
                Branch(
                    chain: chain, pipelineFilter: try filter(chain[..<switchAt]), publisherFilter: try filter(chain[switchAt...]),
                    backPressureGiven: publish.options?.backPressure, backPressure: publish.options?.backPressure ?? .block,
                    worker: publishWorker == feedWorker ? nil : workers[publishWorker], listen: listen))
        }

        // Priorities between the feed and the publishers that share its worker.
        let local = branches.filter { $0.worker == nil }.map { nodes[index[$0.publish]!] }
        if feed.priority != nil && local.isEmpty {
            throw fail(
                "\(key(feed.name)).priority",
                "priority orders stages that share a worker: no publish node shares '\(feed.name)''s worker")
        }
        let localPriorities = Set(local.map { $0.priority ?? 0 })
        if localPriorities.count > 1 {
            throw fail(
                "\(key(local[0].name)).priority",
                "the publish nodes on the feed's worker run as one stage: give them the same priority")
        }
        var graph = ProcessingGraph(branches: branches, pipelineWorker: workers[feedWorker])
        let feedPriority = feed.priority ?? 0, publishPriority = localPriorities.first ?? feedPriority
        if feedPriority != publishPriority { graph.favoured = feedPriority > publishPriority ? .first : .second }
        return graph
    }

    /// The branch ending at publish node `name`.
    public func branch(_ name: String) -> Branch? { branches.first { $0.publish == name } }

    /// `feed → filter … → publish` per branch, for the log.
    public var description: String {
        let order =
            switch favoured {
            case .first?: ", feed favoured"
            case .second?: ", publisher favoured"
            case nil: ""
            }
        return branches.map { $0.chain.joined(separator: " → ") + ($0.worker == nil ? " (on the feed's worker\(order))" : "") }
            .joined(separator: "; ")
    }
}
