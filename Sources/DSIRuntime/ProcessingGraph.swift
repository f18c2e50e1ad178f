import DSICore
import DSIFeeds

/// One node of the processing graph in the config (`graph:`), or built in code.
public struct NodeConfig: Codable, Sendable {
    public var name: String
    /// `feed` (the configured feed: arbitration, decode, books, ticks), `filter`, or `publish` (the TLS publisher).
    public var kind: String
    /// The node whose ticks this one takes (none for a feed).
    public var input: String?
    public var options: NodeOptions?
    /// For a feed or publish node sharing its worker with the other: the higher is polled every duty cycle, the
    /// lower only when the higher is idle (and at least every few cycles). Default 0; equal means both every cycle.
    public var priority: Int?

    public init(name: String, kind: String, input: String? = nil, options: NodeOptions? = nil, priority: Int? = nil) {
        self.name = name
        self.kind = kind
        self.input = input
        self.options = options
        self.priority = priority
    }
}

/// A node's options: a filter takes exactly one of `symbols`, `kinds`, `priceBand`; `publish` takes `backPressure`
/// for the ring in front of it when it runs on another worker.
public struct NodeOptions: Codable, Sendable {
    public var symbols: [String]?
    public var kinds: [String]?
    public var priceBand: FilterConfig.PriceBand?
    public var backPressure: BackPressure?

    public init(symbols: [String]? = nil, kinds: [String]? = nil, priceBand: FilterConfig.PriceBand? = nil,
                backPressure: BackPressure? = nil) {
        self.symbols = symbols
        self.kinds = kinds
        self.priceBand = priceBand
        self.backPressure = backPressure
    }
}

/// A checked graph, laid out on the workers: the feed and the filters that share its worker run fused on it; a ring
/// joins it to the publisher's worker, where the remaining filters run before the stream is numbered. With one worker
/// for everything, the two halves are fused on it too.
public struct ProcessingGraph: Sendable {
    /// Node names from the feed to the publisher.
    public var chain: [String]
    public var pipelineFilter: TickFilter
    public var publisherFilter: TickFilter
    public var backPressure: BackPressure
    public var pipelineWorker: WorkerConfig
    /// nil: the pipeline's worker runs the publisher too.
    public var publisherWorker: WorkerConfig?
    /// On one worker: which stage the duty cycle favours (`first` the feed's, `second` the publisher's); nil when
    /// both run every cycle.
    public var favoured: FavouredAgent? = nil

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
        for (i, node) in nodes.enumerated() {
            if node.kind == "feed" {
                if let input = node.input { throw fail("graph[\(i)] (node '\(node.name)')", "a feed takes no input (has '\(input)')") }
            } else {
                guard let input = node.input else { throw fail("graph[\(i)] (node '\(node.name)')", "needs an input") }
                guard index[input] != nil else {
                    throw fail("graph[\(i)] (node '\(node.name)')", "unknown input '\(input)'")
                }
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
        guard publishers.count == 1 else { throw fail("graph", "exactly one publish node is supported (\(publishers.count) given)") }
        // The chain from the publisher back to the feed; anything off it (or a fan-out) is not supported yet.
        var chain: [String] = []
        var current: NodeConfig? = publishers[0]
        while let node = current {
            chain.insert(node.name, at: 0)
            current = node.input.map { nodes[index[$0]!] }
        }
        var consumers: [String: [String]] = [:]
        for node in nodes { if let input = node.input { consumers[input, default: []].append(node.name) } }
        if let (producer, many) = consumers.first(where: { $0.value.count > 1 }) {
            throw fail("graph (node '\(producer)')", "feeds \(many.count) nodes (\(many.joined(separator: ", "))): fan-out is not supported yet")
        }
        if let stray = nodes.first(where: { !chain.contains($0.name) }) {
            throw fail("graph[\(index[stray.name]!)] (node '\(stray.name)')", "is not on the path from the feed to the publisher")
        }

        // Placement: every node on exactly one worker; the pipeline worker holds the feed and a run of filters, the
        // publisher's worker (if another) the rest.
        var placed: [String: Int] = [:]
        for (w, worker) in workers.enumerated() {
            for name in worker.nodes ?? [] {
                guard index[name] != nil else { throw fail("workers[\(w)].nodes", "unknown node '\(name)'") }
                if let other = placed[name] { throw fail("workers[\(w)].nodes", "node '\(name)' is also on workers[\(other)]") }
                placed[name] = w
            }
        }
        if let orphan = chain.first(where: { placed[$0] == nil }) {
            throw fail("graph[\(index[orphan]!)] (node '\(orphan)')", "is on no worker (list it under a worker's nodes)")
        }
        let used = Array(Set(placed.values)).sorted()
        guard used.count <= 2 else { throw fail("workers", "the graph runs on one or two workers for now (\(used.count) given nodes)") }
        let feedWorker = placed[chain[0]]!, publishWorker = placed[chain.last!]!
        let switchAt = chain.firstIndex { placed[$0] != feedWorker } ?? chain.count
        if let wrong = chain[switchAt...].first(where: { placed[$0] != publishWorker }) {
            throw fail("graph[\(index[wrong]!)] (node '\(wrong)')",
                       "is on workers[\(placed[wrong]!)], but the nodes between the feed and the publisher must stay on the feed's worker and then the publisher's, in order")
        }
        func filter(_ names: ArraySlice<String>) throws -> TickFilter {
            var conditions: [TickFilter.Condition] = []
            for name in names where nodes[index[name]!].kind == "filter" {
                let node = nodes[index[name]!]
                let o = node.options ?? NodeOptions()
                let entry = FilterConfig(symbols: o.symbols, kinds: o.kinds, priceBand: o.priceBand)
                conditions += try HandlerConfig.filter([entry]) { _, problem in
                    ConfigError(file: file, key: "graph[\(index[name]!)] (node '\(name)').options", problem: problem)
                }.conditions
            }
            return TickFilter(conditions)
        }
        let publishNode = nodes[index[chain.last!]!]
        let feedNode = nodes[index[chain[0]]!]
        if let filtered = nodes.first(where: { $0.kind == "filter" && $0.priority != nil }) {
            throw fail("graph[\(index[filtered.name]!)] (node '\(filtered.name)').priority",
                       "a filter runs inside its worker's stage: give the priority to the feed or publish node")
        }
        if let node = [feedNode, publishNode].first(where: { ($0.priority ?? 0) < 0 }) {
            throw fail("graph[\(index[node.name]!)] (node '\(node.name)').priority", "must be 0 or more (is \(node.priority!))")
        }
        let feedPriority = feedNode.priority ?? 0, publishPriority = publishNode.priority ?? 0
        if feedWorker != publishWorker && feedPriority != publishPriority {
            throw fail("graph[\(index[publishNode.name]!)] (node '\(publishNode.name)').priority",
                       "priority orders stages that share a worker: '\(feedNode.name)' and '\(publishNode.name)' are on different workers")
        }
        var graph = ProcessingGraph(
            chain: chain,
            pipelineFilter: try filter(chain[..<switchAt]),
            publisherFilter: try filter(chain[switchAt...]),
            backPressure: publishNode.options?.backPressure ?? .block,
            pipelineWorker: workers[feedWorker],
            publisherWorker: feedWorker == publishWorker ? nil : workers[publishWorker])
        if feedPriority != publishPriority { graph.favoured = feedPriority > publishPriority ? .first : .second }
        return graph
    }

    /// `feed → filter … → publish` with workers, for the log.
    public var description: String {
        let order = switch favoured {
        case .first?: ", feed favoured"
        case .second?: ", publisher favoured"
        case nil: ""
        }
        return chain.joined(separator: " → ") + (publisherWorker == nil ? " (one worker\(order))" : "")
    }
}
