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
