import DSICore
import DSIFeeds

/// A checked graph, laid out on the workers. Ticks flow from feed nodes (one per configured feed) through filters to
/// publish nodes; a node may take several inputs (`inputs:`). Each publish node is a branch with its own publisher,
/// serving one feed; each path from a feed to it runs the filters on the feed's worker, crosses a ring to the
/// publisher's worker (one ring per feed worker and branch: each ring has one writer), and runs the rest there,
/// before the stream is numbered.
public struct ProcessingGraph: Sendable {
    /// One path from a feed to a publish node: the feed's ticks take it and no other to that publisher.
    public struct Path: Sendable {
        /// The feed, by its place in the configuration's `feeds`.
        public var feed: Int
        /// Node names from the feed node to the publish node.
        public var chain: [String]
        /// The path's filters on the feed's worker (before the ring), and on the publisher's worker (after).
        public var pipelineFilter: TickFilter
        public var publisherFilter: TickFilter
    }

    /// One publish node and the paths that reach it, as laid out.
    public struct Branch: Sendable {
        /// One per feed that reaches the publish node, in feed order.
        public var paths: [Path]
        /// The publish node's own choice, if it made one (the config settles the rest).
        public var backPressureGiven: BackPressure?
        /// What the rings in front of the publisher do when full (settled by the config's validation).
        public var backPressure: BackPressure
        /// The publisher's worker; nil when it is its feeds' worker (fused after them in one duty cycle).
        public var worker: WorkerConfig?
        /// Where the publisher listens; nil takes `publisher.listen`.
        public var listen: IPv4Endpoint?
        /// A `nats` node's settings; nil for a publish node (TLS).
        public var nats: NATSSettings? = nil
        /// The publish node's name.
        public var publish: String { paths[0].chain.last! }

        // The first path's, for the usual graph with one feed.
        public var chain: [String] { paths[0].chain }
        public var pipelineFilter: TickFilter { paths[0].pipelineFilter }
        public var publisherFilter: TickFilter { paths[0].publisherFilter }
        /// The feeds that reach this publisher.
        public var feeds: [Int] { paths.map(\.feed) }
    }

    /// The publish nodes (TLS publishers), in graph order.
    public var branches: [Branch]
    /// The `nats` nodes, in graph order.
    public var natsBranches: [Branch] = []
    /// Each feed's worker, by the feed's place in `feeds`.
    public var feedWorkers: [WorkerConfig]
    /// On a worker that runs feeds and publishers both: which stage its duty cycle favours (`first` the feeds',
    /// `second` the publishers'), by worker name; absent: all run every cycle.
    public var favouredOn: [String: FavouredAgent] = [:]

    // The first feed's and the first branch's, for graphs with one feed and one publisher (the usual case, and
    // every graph without `graph:`).
    public var pipelineWorker: WorkerConfig { feedWorkers[0] }
    public var favoured: FavouredAgent? { favouredOn[pipelineWorker.name] }
    public var chain: [String] { branches[0].chain }
    public var pipelineFilter: TickFilter { branches[0].pipelineFilter }
    public var publisherFilter: TickFilter { branches[0].publisherFilter }
    public var backPressure: BackPressure { branches[0].backPressure }
    /// The first branch's publisher's worker; nil: its feeds' worker runs it.
    public var publisherWorker: WorkerConfig? { branches[0].worker }

    public static let kinds = ["feed", "filter", "publish", "nats"]
    /// The kinds that end a path: they send ticks out of the handler.
    static let ends = ["publish", "nats"]

    /// Checks `nodes` against the configured `feeds` (their names) and their placement on `workers`; every problem
    /// names the file, the node and what is wrong.
    static func validate(nodes: [NodeConfig], feeds: [String], workers: [WorkerConfig], file: String) throws
        -> ProcessingGraph
    {
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
        var inputs: [String: [String]] = [:]
        for node in nodes {
            if node.input != nil && node.inputs != nil {
                throw fail(key(node.name), "give input or inputs, not both")
            }
            let given = node.inputs ?? node.input.map { [$0] } ?? []
            if node.kind == "feed" {
                if let input = given.first { throw fail(key(node.name), "a feed takes no input (has '\(input)')") }
            } else {
                guard !given.isEmpty else { throw fail(key(node.name), "needs an input") }
                if let unknown = given.first(where: { index[$0] == nil }) {
                    throw fail(key(node.name), "unknown input '\(unknown)'")
                }
                if let twice = given.first(where: { name in given.filter { $0 == name }.count > 1 }) {
                    throw fail(key(node.name), "input '\(twice)' is given twice")
                }
            }
            inputs[node.name] = given
            let o = node.options
            if node.kind != "publish", let o, o.listen != nil {
                throw fail("\(key(node.name)).options", "listen is one of a publish node's options")
            }
            if !ends.contains(node.kind), let o, o.backPressure != nil {
                throw fail("\(key(node.name)).options", "backPressure is a publish or nats node's option")
            }
            if node.kind != "nats", let o, o.servers != nil || o.subjectPrefix != nil || o.encoding != nil || o.jetstream != nil {
                throw fail(
                    "\(key(node.name)).options", "servers, subjectPrefix, encoding and jetstream are a nats node's options")
            }
            if node.kind != "feed", o?.feed != nil {
                throw fail("\(key(node.name)).options.feed", "names the feed of a feed node only")
            }
        }
        var workerNames: [String: Int] = [:]
        for (w, worker) in workers.enumerated() {
            if let other = workerNames.updateValue(w, forKey: worker.name) {
                throw fail("workers[\(w)].name", "duplicate worker name '\(worker.name)' (also workers[\(other)])")
            }
        }
        try checkAcyclic(nodes, inputs: inputs, fail: fail)

        // Feed nodes and feeds, one to one. With one feed, its node may have any name.
        var feedOf: [String: Int] = [:]
        for node in nodes where node.kind == "feed" {
            let wanted = node.options?.feed ?? node.name
            let f = feeds.firstIndex(of: wanted) ?? (feeds.count == 1 && node.options?.feed == nil ? 0 : nil)
            guard let f else {
                throw fail(
                    key(node.name),
                    "runs no configured feed: '\(wanted)' is not a feed's name (\(feeds.joined(separator: ", "))); name the node after its feed or give options.feed"
                )
            }
            if let other = feedOf.first(where: { $0.value == f })?.key {
                throw fail(key(node.name), "runs feed '\(feeds[f])', which '\(other)' runs already (one node per feed)")
            }
            feedOf[node.name] = f
        }
        if let missing = feeds.indices.first(where: { f in !feedOf.values.contains(f) }) {
            throw fail("graph", "feed '\(feeds[missing])' (feeds[\(missing)]) has no feed node")
        }
        let publishers = nodes.filter { ends.contains($0.kind) }
        guard !publishers.isEmpty else { throw fail("graph", "at least one publish node is needed") }
        var consumers: [String: [String]] = [:]
        for node in nodes { for input in inputs[node.name]! { consumers[input, default: []].append(node.name) } }
        if let end = publishers.first(where: { consumers[$0.name] != nil }) {
            throw fail(key(end.name), "a publish node is an end, but '\(consumers[end.name]![0])' takes its ticks")
        }

        // Every path from a feed to each publish node; a feed reaching a publisher twice would publish its ticks twice.
        var chainsOf: [String: [[String]]] = [:]
        for publish in publishers {
            var chains: [[String]] = []
            func walk(_ name: String, _ suffix: [String]) {
                let chain = [name] + suffix
                if feedOf[name] != nil { chains.append(chain) }
                for input in inputs[name]! { walk(input, chain) }
            }
            walk(publish.name, [])
            let byFeed = Dictionary(grouping: chains) { feedOf[$0[0]]! }
            if let (f, twice) = byFeed.first(where: { $0.value.count > 1 }) {
                throw fail(
                    key(publish.name),
                    "feed '\(feeds[f])' reaches it by \(twice.count) paths (\(twice.map { $0.joined(separator: " → ") }.joined(separator: "; "))): each tick would be published twice"
                )
            }
            // A TLS publisher numbers topics, keeps images and serves subscriptions by stock locate, which only
            // means something within one feed.
            if byFeed.count > 1 && publish.kind == "publish" {
                throw fail(
                    key(publish.name),
                    "takes the ticks of \(byFeed.count) feeds (\(byFeed.keys.sorted().map { feeds[$0] }.joined(separator: ", "))), but a publish node serves one feed (its topics, images and stock locates are that feed's): give each feed a publish node of its own"
                )
            }
            chainsOf[publish.name] = chains.sorted { feedOf[$0[0]]! < feedOf[$1[0]]! }
        }
        let onPaths = Set(chainsOf.values.flatMap { $0.flatMap { $0 } })
        if let stray = nodes.first(where: { !onPaths.contains($0.name) }) {
            throw fail(key(stray.name), "is not on a path from a feed to a publisher")
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
        if let filtered = nodes.first(where: { $0.kind == "filter" && $0.priority != nil }) {
            throw fail(
                "\(key(filtered.name)).priority",
                "a filter runs inside its worker's stage: give the priority to the feed or publish node")
        }
        if let node = nodes.first(where: { ($0.priority ?? 0) < 0 }) {
            throw fail("\(key(node.name)).priority", "must be 0 or more (is \(node.priority!))")
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

        var branches: [Branch] = []
        var usesDefaultListen: String? = nil
        for publish in publishers {
            let publishWorker = placed[publish.name]!
            var paths: [Path] = []
            var feedWorkersHere = Set<Int>()
            for chain in chainsOf[publish.name]! {
                let feedNode = chain[0], feedWorker = placed[feedNode]!
                feedWorkersHere.insert(feedWorker)
                // Along the path: the feed's worker first, then the publisher's, each a contiguous run.
                let switchAt = chain.firstIndex { placed[$0] != feedWorker } ?? chain.count
                if let wrong = chain[switchAt...].first(where: { placed[$0] != publishWorker }) {
                    throw fail(
                        key(wrong),
                        "is on workers[\(placed[wrong]!)], but the nodes between the feed '\(feedNode)' and the publisher must stay on the feed's worker and then the publisher's, in order"
                    )
                }
                // A node that feeds several nodes is before their rings: it runs on the feed's worker.
                if let shared = chain.dropLast().first(where: { (consumers[$0]?.count ?? 0) > 1 && placed[$0] != feedWorker }) {
                    throw fail(
                        key(shared),
                        "feeds \(consumers[shared]!.count) branches, so it runs on the feed's worker (workers[\(feedWorker)])")
                }
                paths.append(
                    Path(
                        feed: feedOf[feedNode]!, chain: chain, pipelineFilter: try filter(chain[..<switchAt]),
                        publisherFilter: try filter(chain[switchAt...])))
            }
            let fused = feedWorkersHere.contains(publishWorker)
            if publish.kind == "nats" {
                // A NATS client's publish may wait on its socket: it never shares a thread with a feed.
                guard !fused else {
                    throw fail(key(publish.name), "a nats node runs on a worker without feeds (it may wait on the network)")
                }
                if publish.priority != nil {
                    throw fail("\(key(publish.name)).priority", "priority orders stages that share a worker with feeds")
                }
                branches.append(
                    Branch(
                        paths: paths, backPressureGiven: publish.options?.backPressure,
                        backPressure: publish.options?.backPressure ?? .block, worker: workers[publishWorker], listen: nil,
                        nats: try NATSSettings.validate(
                            publish.options ?? NodeOptions(), key: "\(key(publish.name)).options", fail: fail)))
                continue
            }
            // A publisher fused into a feed worker's duty cycle drains what that worker's feeds make; one fed from
            // other workers too would stop with that worker while they still send to it.
            if fused && feedWorkersHere.count > 1 {
                let other = paths.first { placed[$0.chain[0]] != publishWorker }!.chain[0]
                throw fail(
                    key(publish.name),
                    "runs on workers[\(publishWorker)] with its feeds, so it takes only feeds of that worker ('\(other)' is on workers[\(placed[other]!)]); give it a worker of its own"
                )
            }
            if !fused && publish.priority != nil {
                throw fail(
                    "\(key(publish.name)).priority",
                    "priority orders stages that share a worker: '\(publish.name)' and its feeds are on different workers")
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
                    paths: paths, backPressureGiven: publish.options?.backPressure,
                    backPressure: publish.options?.backPressure ?? .block, worker: fused ? nil : workers[publishWorker],
                    listen: listen))
        }

        // Priorities between the feeds and the publishers that share a worker.
        var graph = ProcessingGraph(
            branches: branches.filter { $0.nats == nil },
            feedWorkers: feeds.indices.map { f in workers[placed[feedOf.first { $0.value == f }!.key]!] })
        graph.natsBranches = branches.filter { $0.nats != nil }
        for (w, worker) in workers.enumerated() {
            let feedsHere = nodes.filter { $0.kind == "feed" && placed[$0.name] == w }
            let publishersHere = publishers.filter { p in
                placed[p.name] == w && graph.branch(p.name).map { $0.worker == nil } ?? false
            }
            for (stage, members) in [("feed", feedsHere), ("publish", publishersHere)] where members.count > 1 {
                if Set(members.map { $0.priority ?? 0 }).count > 1 {
                    throw fail(
                        "\(key(members[0].name)).priority",
                        "the \(stage) nodes on workers[\(w)] run as one stage: give them the same priority")
                }
            }
            if let feed = feedsHere.first(where: { $0.priority != nil }), publishersHere.isEmpty {
                throw fail(
                    "\(key(feed.name)).priority",
                    "priority orders stages that share a worker: no publish node shares '\(feed.name)''s worker")
            }
            guard let feed = feedsHere.first, let publish = publishersHere.first else { continue }
            let feedPriority = feed.priority ?? 0, publishPriority = publish.priority ?? feedPriority
            if feedPriority != publishPriority {
                graph.favouredOn[worker.name] = feedPriority > publishPriority ? .first : .second
            }
        }
        return graph
    }

    /// Refuses a cycle, naming it (depth first from every node, along inputs).
    static func checkAcyclic(_ nodes: [NodeConfig], inputs: [String: [String]], fail: (String, String) -> ConfigError) throws {
        var done = Set<String>()
        func visit(_ name: String, _ path: [String]) throws {
            if let start = path.firstIndex(of: name) {
                let loop = path[start...] + [name]
                throw fail("graph", "cycle: \(loop.reversed().joined(separator: " → "))")
            }
            guard !done.contains(name) else { return }
            for input in inputs[name] ?? [] { try visit(input, path + [name]) }
            done.insert(name)
        }
        for node in nodes { try visit(node.name, []) }
    }

    /// The branch ending at publish node `name`.
    public func branch(_ name: String) -> Branch? { branches.first { $0.publish == name } }

    /// `feed → filter … → publish` per path, for the log.
    public var description: String {
        (branches + natsBranches).flatMap { branch in
            branch.paths.map { path in
                let order =
                    switch favouredOn[feedWorkers[path.feed].name] {
                    case .first?: ", feed favoured"
                    case .second?: ", publisher favoured"
                    case nil: ""
                    }
                return path.chain.joined(separator: " → ") + (branch.worker == nil ? " (on the feed's worker\(order))" : "")
            }
        }.joined(separator: "; ")
    }
}
