import DSIRuntime
import DSITestSupport
import Foundation
import Testing

@Suite struct GraphConfigTests {
    static let head = """
        feeds:
          - name: f
            protocol: moldudp64-itch50
            interface: 127.0.0.1
            lines: [{name: A, group: "239.255.0.1:30001"}]
        publisher:
          listen: 127.0.0.1:9443

        """

    func load(_ yaml: String) throws -> ValidatedConfig {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try (Self.head + yaml).write(toFile: dir.file("g.yaml"), atomically: true, encoding: .utf8)
        return try HandlerConfig.load(path: dir.file("g.yaml"))
    }

    func refuses(_ yaml: String, saying parts: [String]) {
        #expect { try load(yaml) } throws: { error in
            let text = "\(error)"
            let ok = text.contains("g.yaml") && parts.allSatisfy { text.contains($0) }
            if !ok { Issue.record("message was: \(text)") }
            return ok
        }
    }

    static let twoWorkers = """
        graph:
          - {name: itch, kind: feed}
          - {name: zxa, kind: filter, input: itch, options: {symbols: [ZXA]}}
          - {name: trades, kind: filter, input: zxa, options: {kinds: [trade]}}
          - {name: out, kind: publish, input: trades, options: {backPressure: block}}
        workers:
          - {name: w0, cpu: 0, idle: backoff, nodes: [itch, zxa]}
          - {name: w1, cpu: 1, idle: backoff, nodes: [trades, out]}

        """

    @Test func chainSplitAcrossTwoWorkers() throws {
        let c = try load(Self.twoWorkers)
        #expect(c.graph.chain == ["itch", "zxa", "trades", "out"])
        #expect(c.graph.pipelineFilter.conditions.count == 1 && c.graph.publisherFilter.conditions.count == 1)
        #expect(c.pipelineWorker.name == "w0" && c.graph.publisherWorker?.name == "w1")
        #expect(c.backPressure == .block)
    }

    @Test func oneWorkerRunsEverything() throws {
        let c = try load(
            """
            graph:
              - {name: itch, kind: feed}
              - {name: out, kind: publish, input: itch}
            workers:
              - {name: solo, cpu: 0, idle: backoff, nodes: [itch, out]}

            """)
        #expect(c.graph.publisherWorker == nil)
        #expect(c.backPressure == .drop, "one thread cannot wait for itself")
    }

    @Test func prioritiesOrderTheStagesOfOneWorker() throws {
        let solo = """
            graph:
              - {name: itch, kind: feed, priority: 1}
              - {name: out, kind: publish, input: itch, priority: 2}
            workers:
              - {name: solo, cpu: 0, idle: backoff, nodes: [itch, out]}

            """
        let c = try load(solo)
        #expect(c.graph.favoured == .second)
        #expect(c.graph.description.contains("publisher favoured"))
        #expect(try load(solo.replacingOccurrences(of: "priority: 2", with: "priority: 0")).graph.favoured == .first)
        #expect(try load(solo.replacingOccurrences(of: "priority: 2", with: "priority: 1")).graph.favoured == nil)
        #expect(try load(Self.twoWorkers).graph.favoured == nil)
    }

    static let fanOut = """
        graph:
          - {name: itch, kind: feed}
          - {name: zxa, kind: filter, input: itch, options: {symbols: [ZXA]}}
          - {name: trades, kind: filter, input: zxa, options: {kinds: [trade]}}
          - {name: tradesOut, kind: publish, input: trades}
          - {name: quotes, kind: filter, input: zxa, options: {kinds: [quote]}}
          - {name: quotesOut, kind: publish, input: quotes, options: {listen: "127.0.0.1:9444", backPressure: drop}}
        workers:
          - {name: w0, cpu: 0, idle: backoff, nodes: [itch, zxa, trades]}
          - {name: w1, cpu: 1, idle: backoff, nodes: [tradesOut, quotes, quotesOut]}

        """

    @Test func fanOutGivesEachPublisherItsBranch() throws {
        let c = try load(Self.fanOut)
        #expect(
            c.graph.branches.map(\.chain) == [["itch", "zxa", "trades", "tradesOut"], ["itch", "zxa", "quotes", "quotesOut"]])
        let trades = c.graph.branch("tradesOut")!, quotes = c.graph.branch("quotesOut")!
        #expect(trades.pipelineFilter.conditions.count == 2 && trades.publisherFilter.conditions.isEmpty)
        #expect(quotes.pipelineFilter.conditions.count == 1 && quotes.publisherFilter.conditions.count == 1)
        #expect(trades.worker?.name == "w1" && quotes.worker?.name == "w1")
        #expect(c.listen(of: trades).description == "127.0.0.1:9443" && c.listen(of: quotes).description == "127.0.0.1:9444")
        #expect(trades.backPressure == .block && quotes.backPressure == .drop)
        #expect(c.filter(of: quotes).conditions.count == 2)
    }

    @Test func invalidGraphsAreRefusedWithTheNodeAndTheProblem() {
        refuses(
            Self.fanOut.replacingOccurrences(of: "options: {listen: \"127.0.0.1:9444\", backPressure: drop}", with: ""),
            saying: ["node 'quotesOut'", "options.listen", "publisher.listen"])
        refuses(
            Self.fanOut.replacingOccurrences(
                of: "{name: tradesOut, kind: publish, input: trades}",
                with: "{name: tradesOut, kind: publish, input: trades, options: {listen: \"127.0.0.1:9444\"}}"),
            saying: ["node 'quotesOut'", "127.0.0.1:9444", "also where 'tradesOut'"])
        refuses(
            Self.fanOut.replacingOccurrences(of: "nodes: [itch, zxa, trades]", with: "nodes: [itch]")
                .replacingOccurrences(
                    of: "nodes: [tradesOut, quotes, quotesOut]", with: "nodes: [zxa, trades, tradesOut, quotes, quotesOut]"),
            saying: ["node 'zxa'", "feeds 2 branches", "feed's worker"])
        refuses(
            Self.fanOut.replacingOccurrences(
                of: "{name: quotes, kind: filter, input: zxa,", with: "{name: quotes, kind: filter, input: tradesOut,"),
            saying: ["node 'tradesOut'", "is an end", "'quotes'"])
        refuses(
            Self.fanOut.replacingOccurrences(
                of:
                    "  - {name: quotesOut, kind: publish, input: quotes, options: {listen: \"127.0.0.1:9444\", backPressure: drop}}\n",
                with: ""
            )
            .replacingOccurrences(of: "nodes: [tradesOut, quotes, quotesOut]", with: "nodes: [tradesOut, quotes]"),
            saying: ["node 'quotes'", "not on a path"])
        refuses(
            """
            graph:
              - {name: itch, kind: feed}
            workers: [{name: w, cpu: 0, nodes: [itch]}]

            """, saying: ["at least one publish node"])
        // tradesOut takes publisher.listen (127.0.0.1:9443): the same port again, or on the wildcard, is a clash.
        refuses(
            Self.fanOut.replacingOccurrences(of: "listen: \"127.0.0.1:9444\"", with: "listen: \"127.0.0.1:9443\""),
            saying: ["node 'quotesOut'", "options.listen", "also where 'tradesOut'"])
        refuses(
            Self.fanOut.replacingOccurrences(of: "listen: \"127.0.0.1:9444\"", with: "listen: \"0.0.0.0:9443\""),
            saying: ["node 'quotesOut'", "options.listen", "also where 'tradesOut'"])
        refuses(
            Self.fanOut.replacingOccurrences(
                of: "options: {kinds: [quote]}", with: "options: {kinds: [quote], listen: \"127.0.0.1:9555\"}"),
            saying: ["node 'quotes'", ".options", "publish node's options"])
        refuses(
            Self.fanOut.replacingOccurrences(of: "{name: w1,", with: "{name: w0,"),
            saying: ["workers[1].name", "duplicate worker name 'w0'"])
        refuses(
            Self.twoWorkers.replacingOccurrences(
                of: "{name: out, kind: publish, input: trades,",
                with: "{name: out, kind: publish, input: trades, priority: 3,"),
            saying: ["node 'out'", ".priority", "different workers"])
        refuses(
            Self.twoWorkers.replacingOccurrences(of: "{name: zxa, kind: filter,", with: "{name: zxa, kind: filter, priority: 1,"),
            saying: ["node 'zxa'", ".priority", "feed or publish"])
        refuses(
            """
            graph:
              - {name: itch, kind: feed, priority: -1}
              - {name: out, kind: publish, input: itch}
            workers: [{name: w, cpu: 0, nodes: [itch, out]}]

            """, saying: ["node 'itch'", ".priority", "0 or more"])
        refuses(
            """
            graph:
              - {name: itch, kind: feed}
              - {name: a, kind: filter, input: b, options: {kinds: [trade]}}
              - {name: b, kind: filter, input: a, options: {kinds: [quote]}}
              - {name: out, kind: publish, input: itch}
            workers: [{name: w, cpu: 0, nodes: [itch, a, b, out]}]

            """, saying: ["cycle", "a", "b"])
        refuses(
            """
            graph:
              - {name: itch, kind: feed}
              - {name: out, kind: publish, input: nowhere}
            workers: [{name: w, cpu: 0, nodes: [itch, out]}]

            """, saying: ["node 'out'", "unknown input 'nowhere'"])
        refuses(
            """
            graph:
              - {name: itch, kind: feed}
              - {name: x, kind: candles, input: itch}
              - {name: out, kind: publish, input: x}
            workers: [{name: w, cpu: 0, nodes: [itch, x, out]}]

            """, saying: ["graph[1].kind", "'candles' is not allowed", "feed, filter, publish"])
        refuses(
            """
            graph:
              - {name: itch, kind: feed}
              - {name: itch, kind: publish, input: itch}
            workers: [{name: w, cpu: 0, nodes: [itch]}]

            """, saying: ["duplicate node name 'itch'"])
        refuses(
            """
            graph:
              - {name: itch, kind: feed}
              - {name: out, kind: publish, input: itch}
            workers: [{name: w, cpu: 0, nodes: [itch]}]

            """, saying: ["node 'out'", "on no worker"])
        refuses(
            """
            graph:
              - {name: itch, kind: feed}
              - {name: out, kind: publish, input: itch}
            workers: [{name: w, cpu: 4096, nodes: [itch, out]}]

            """, saying: ["workers[0].cpu", "4096 is out of range"])
        refuses(
            Self.twoWorkers.replacingOccurrences(of: "nodes: [itch, zxa]", with: "nodes: [itch, trades]")
                .replacingOccurrences(of: "nodes: [trades, out]", with: "nodes: [zxa, out]"),
            saying: ["node 'trades'", "in order"])
        refuses(
            Self.twoWorkers.replacingOccurrences(of: "options: {symbols: [ZXA]}", with: "options: {}"),
            saying: ["node 'zxa'", "exactly one"])
    }
}

/// Several feeds in one handler: each has one feed node, each publish node serves one feed, and what would be
/// ambiguous (a name twice, a group shared, a feed with no node) is refused by key.
@Suite struct MultiFeedConfigTests {
    static let feeds = """
        feeds:
          - {name: alpha, protocol: moldudp64-itch50, interface: 127.0.0.1, lines: [{name: A, group: "239.255.0.1:30001"}]}
          - {name: beta, protocol: moldudp64-itch50, interface: 127.0.0.1, lines: [{name: A, group: "239.255.1.1:30001"}]}
        publisher:
          listen: 127.0.0.1:9443

        """
    static let graph = """
        graph:
          - {name: alpha, kind: feed}
          - {name: b, kind: feed, options: {feed: beta}}
          - {name: betaTrades, kind: filter, input: b, options: {kinds: [trade]}}
          - {name: alphaOut, kind: publish, input: alpha}
          - {name: betaOut, kind: publish, input: betaTrades, options: {listen: "127.0.0.1:9444"}}
        workers:
          - {name: wa, cpu: 0, nodes: [alpha]}
          - {name: wb, cpu: 1, nodes: [b, betaTrades]}
          - {name: wp, cpu: 1, nodes: [alphaOut, betaOut]}

        """

    func load(_ yaml: String) throws -> ValidatedConfig {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try yaml.write(toFile: dir.file("m.yaml"), atomically: true, encoding: .utf8)
        return try HandlerConfig.load(path: dir.file("m.yaml"))
    }

    func refuses(_ yaml: String, saying parts: [String]) {
        #expect { try load(yaml) } throws: { error in
            let text = "\(error)"
            let ok = parts.allSatisfy { text.contains($0) }
            if !ok { Issue.record("message was: \(text)") }
            return ok
        }
    }

    @Test func eachFeedHasItsNodeWorkerAndPublisher() throws {
        let c = try load(Self.feeds + Self.graph)
        #expect(c.feeds.map(\.name) == ["alpha", "beta"])
        #expect(c.graph.feedWorkers.map(\.name) == ["wa", "wb"])
        let alpha = try #require(c.graph.branch("alphaOut")), beta = try #require(c.graph.branch("betaOut"))
        #expect(alpha.feeds == [0] && beta.feeds == [1])
        #expect(beta.chain == ["b", "betaTrades", "betaOut"] && beta.pipelineFilter.conditions.count == 1)
        #expect(alpha.worker?.name == "wp" && beta.worker?.name == "wp")
        #expect(c.publishRingCount == 2)
        // Memory is counted per feed.
        let keys = MachineLimits.memory(for: c).map(\.key)
        #expect(keys.contains("feeds[0].maxOrders") && keys.contains("feeds[1].maxOrders"))
        #expect(c.resolvedDescription.contains("  - name: alpha") && c.resolvedDescription.contains("  - name: beta"))
    }

    @Test func ambiguousFeedsAreRefusedByKey() {
        refuses(Self.feeds, saying: ["feeds", "2 feeds need a graph"])
        refuses(
            Self.feeds.replacingOccurrences(of: "name: beta,", with: "name: alpha,") + Self.graph,
            saying: ["feeds[1].name", "duplicate feed name 'alpha'"])
        refuses(
            Self.feeds.replacingOccurrences(of: "239.255.1.1:30001", with: "239.255.0.1:30001") + Self.graph,
            saying: ["feeds[1].lines[0].group", "also feeds[0].lines[0]"])
        refuses(
            Self.feeds.replacingOccurrences(of: "name: beta,", with: "name: beta-venue-2,") + Self.graph,
            saying: ["feeds[1].name", "1 to 8 characters"])
        refuses(
            Self.feeds.replacingOccurrences(of: "name: beta,", with: "name: \"be.ta\",") + Self.graph,
            saying: ["feeds[1].name", "letters, digits"])
        refuses(
            Self.feeds + Self.graph.replacingOccurrences(of: "options: {feed: beta}", with: "options: {feed: gamma}"),
            saying: ["node 'b'", "'gamma' is not a feed's name"])
        refuses(
            Self.feeds + Self.graph.replacingOccurrences(of: "options: {feed: beta}", with: "options: {feed: alpha}"),
            saying: ["node 'b'", "which 'alpha' runs already"])
        refuses(
            Self.feeds
                + Self.graph.replacingOccurrences(
                    of: "{name: alphaOut, kind: publish, input: alpha}",
                    with: "{name: alphaOut, kind: publish, inputs: [alpha, betaTrades]}"),
            saying: ["node 'alphaOut'", "2 feeds", "serves one feed"])
        refuses(
            Self.feeds
                + Self.graph.replacingOccurrences(
                    of: "{name: alphaOut, kind: publish, input: alpha}",
                    with: "{name: alphaOut, kind: publish, input: alpha, inputs: [alpha]}"),
            saying: ["node 'alphaOut'", "input or inputs"])
        // A feed with no node: beta's chain removed.
        refuses(
            Self.feeds
                + """
                graph:
                  - {name: alpha, kind: feed}
                  - {name: alphaOut, kind: publish, input: alpha}
                workers: [{name: w, cpu: 0, nodes: [alpha, alphaOut]}]

                """, saying: ["feed 'beta'", "has no feed node"])
        // The same feed twice into one publisher (a diamond) would publish each tick twice.
        refuses(
            Self.feeds
                + Self.graph.replacingOccurrences(
                    of: "{name: betaOut, kind: publish, input: betaTrades,",
                    with: "{name: betaOut, kind: publish, inputs: [betaTrades, b],"),
            saying: ["node 'betaOut'", "feed 'beta' reaches it by 2 paths"])
    }
}

/// `nats` nodes: checked like any end of the graph, and their own options by key.
@Suite struct NATSNodeConfigTests {
    static let yaml = """
        feeds:
          - {name: alpha, protocol: moldudp64-itch50, interface: 127.0.0.1, lines: [{name: A, group: "239.255.0.1:30001"}]}
        publisher:
          listen: 127.0.0.1:9443
        graph:
          - {name: alpha, kind: feed}
          - {name: out, kind: publish, input: alpha}
          - {name: bus, kind: nats, input: alpha, options: {servers: ["nats://127.0.0.1:4222", "nats://nats-2.example:4222"], jetstream: TICKS}}
        workers:
          - {name: w0, cpu: 0, nodes: [alpha]}
          - {name: w1, cpu: 1, nodes: [out, bus]}

        """

    func load(_ yaml: String) throws -> ValidatedConfig {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try yaml.write(toFile: dir.file("n.yaml"), atomically: true, encoding: .utf8)
        return try HandlerConfig.load(path: dir.file("n.yaml"))
    }

    func refuses(_ yaml: String, saying parts: [String]) {
        #expect { try load(yaml) } throws: { error in
            let ok = parts.allSatisfy { "\(error)".contains($0) }
            if !ok { Issue.record("message was: \(error)") }
            return ok
        }
    }

    @Test func aNatsNodeIsABranchOfItsOwn() throws {
        let c = try load(Self.yaml)
        #expect(c.graph.branches.map(\.publish) == ["out"], "TLS publishers only")
        let bus = try #require(c.graph.natsBranches.first)
        #expect(bus.publish == "bus" && bus.worker?.name == "w1" && bus.backPressure == .block)
        #expect(
            bus.nats
                == NATSSettings(
                    servers: ["nats://127.0.0.1:4222", "nats://nats-2.example:4222"], subjectPrefix: "dsi", encoding: .json,
                    jetstream: "TICKS"))
        #expect(c.publishRingCount == 2)
    }

    @Test func badNatsOptionsAreRefusedByKey() {
        let bus = "options: {servers: [\"nats://127.0.0.1:4222\", \"nats://nats-2.example:4222\"], jetstream: TICKS}"
        refuses(
            Self.yaml.replacingOccurrences(of: bus, with: "options: {}"),
            saying: ["node 'bus'", "options.servers", "needs servers"])
        refuses(
            Self.yaml.replacingOccurrences(of: "nats://127.0.0.1:4222", with: "127.0.0.1:4222"),
            saying: ["options.servers", "'127.0.0.1:4222' is not nats://HOST:PORT"])
        refuses(
            Self.yaml.replacingOccurrences(of: "jetstream: TICKS", with: "subjectPrefix: \"md.*\""),
            saying: ["options.subjectPrefix", "'md.*' is not a subject prefix"])
        refuses(
            Self.yaml.replacingOccurrences(of: "jetstream: TICKS", with: "jetstream: \"TI CKS\""),
            saying: ["options.jetstream", "not a stream name"])
        refuses(
            Self.yaml.replacingOccurrences(of: "jetstream: TICKS", with: "encoding: xml"), saying: ["encoding", "xml"])
        refuses(
            Self.yaml.replacingOccurrences(of: "nodes: [alpha]", with: "nodes: [alpha, bus]").replacingOccurrences(
                of: "nodes: [out, bus]", with: "nodes: [out]"),
            saying: ["node 'bus'", "worker without feeds"])
        refuses(
            Self.yaml.replacingOccurrences(
                of: "{name: out, kind: publish, input: alpha}",
                with: "{name: out, kind: publish, input: alpha, options: {servers: [\"nats://h:1\"]}}"),
            saying: ["node 'out'", "a nats node's options"])
    }
}
