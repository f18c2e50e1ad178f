import DSICore
import DSINet
import DSIRuntime
import DSITestSupport
import Foundation
import Testing

@Suite struct ConfigTests {
    func load(_ yaml: String) throws -> ValidatedConfig {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("c.yaml")
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return try HandlerConfig.load(path: path)
    }

    func expectError(_ yaml: String, containing parts: [String]) {
        #expect { try load(yaml) } throws: { error in
            let text = "\(error)"
            let ok = parts.allSatisfy { text.contains($0) } && text.contains("c.yaml")
            if !ok { Issue.record("message was: \(text)") }
            return ok
        }
    }

    static let good = """
        feeds:
          - name: f
            protocol: moldudp64-itch50
            interface: 127.0.0.1
            lines:
              - {name: A, group: "239.255.0.1:30001"}
              - {name: B, group: "239.255.0.2:30001"}
        publisher:
          listen: 127.0.0.1:9443
        """

    @Test func shippedLoopbackConfigIsValid() throws {
        let config = try HandlerConfig.load(path: Commands.root + "/feeds/loopback.yaml")
        #expect(config.lines.map(\.group.description) == ["239.255.0.1:30001", "239.255.0.2:30001"])
        #expect(config.interface.description == "127.0.0.1")
        #expect(config.listen.description == "127.0.0.1:9443")
        #expect(config.pipelineWorker.idle == .backoff && config.publisherWorker.idle == .backoff)
        #expect(config.certificate == nil)
    }

    @Test func shippedGraphConfigIsValid() throws {
        let config = try HandlerConfig.load(path: Commands.root + "/feeds/graph.yaml")
        #expect(config.graph.chain == ["itch", "liquid", "tradesAndQuotes", "out"])
        #expect(config.recoveryServer?.description == "127.0.0.1:30100")
    }

    @Test func shippedFanOutConfigIsValid() throws {
        let config = try HandlerConfig.load(path: Commands.root + "/feeds/fanout.yaml")
        #expect(config.graph.branches.map(\.publish) == ["tradesOut", "quotesOut"])
        #expect(config.graph.branch("quotesOut")?.worker == nil && config.graph.branch("quotesOut")?.backPressure == .drop)
        #expect(config.graph.branch("tradesOut")?.worker?.name == "publisher")
    }

    @Test func shippedMultiFeedAndNATSConfigsAreValid() throws {
        let two = try HandlerConfig.load(path: Commands.root + "/feeds/two-feeds.yaml")
        #expect(two.feeds.map(\.name) == ["nasdaq", "bx"] && two.graph.branches.map(\.feeds) == [[0], [1]])
        let nats = try HandlerConfig.load(path: Commands.root + "/feeds/nats.yaml")
        #expect(
            nats.graph.natsBranches.first?.nats?.jetstream == "TICKS" && nats.graph.natsBranches.first?.worker?.name == "nats")
    }

    @Test func defaultsFillIn() throws {
        let c = try load(Self.good)
        #expect(c.backPressure == .block && c.maxOrders == 1_000_000 && c.ringSlots == 65_536)
    }

    @Test func filtersBuildAChain() throws {
        let c = try load(
            Self.good + "\nfilters:\n  - {symbols: [ZXA]}\n  - {kinds: [trade, quote]}\n  - {priceBand: {min: 1, max: 9}}\n")
        #expect(c.filter.conditions.count == 3)
    }

    @Test func missingFile() {
        #expect { try HandlerConfig.load(path: "/nonexistent/dsi.yaml") } throws: {
            "\($0)" == "/nonexistent/dsi.yaml: no such file"
        }
    }

    @Test func badInputsNameTheKey() {
        expectError("feeds: [unclosed", containing: ["YAML"])
        expectError(
            Self.good.replacingOccurrences(of: "239.255.0.2:30001", with: "10.0.0.1:30001"),
            containing: ["feeds[0].lines[1].group", "not a multicast group"])
        expectError(
            Self.good.replacingOccurrences(of: "listen: 127.0.0.1:9443", with: "listen: nowhere"),
            containing: ["publisher.listen"])
        expectError(
            Self.good.replacingOccurrences(of: "interface: 127.0.0.1", with: "interface: [1, 2]"),
            containing: ["feeds[0].interface", "expected"])
        expectError(
            Self.good.replacingOccurrences(of: "    protocol: moldudp64-itch50\n", with: "    protocol: fix\n"),
            containing: ["feeds[0].protocol", "'fix' is not allowed", "moldudp64-itch50"])
        expectError(
            Self.good.replacingOccurrences(
                of: "  listen: 127.0.0.1:9443", with: "  listen: 127.0.0.1:9443\n  certificate: /x.pem"),
            containing: ["publisher.key", "both"])
        expectError(Self.good.replacingOccurrences(of: "{name: B,", with: "{name: A,"), containing: ["duplicate line name"])
        expectError(Self.good + "\nworkers:\n  - {name: pipeline, cpu: 999}\n", containing: ["workers[0].cpu", "CPU 999"])
        expectError(Self.good + "\nworkers:\n  - {name: parser, cpu: 0}\n", containing: ["workers[0].name", "unknown worker"])
        expectError(Self.good + "\nworkers:\n  - {name: pipeline, idle: hurry}\n", containing: ["workers[0].idle"])
        expectError("publisher:\n  listen: 127.0.0.1:1\n", containing: ["feeds", "missing"])
        expectError(Self.good + "\nfilters:\n  - {kinds: [trade, candle]}\n", containing: ["filters[0].kinds", "candle"])
        expectError(Self.good + "\nfilters:\n  - {kinds: [trade], symbols: [A]}\n", containing: ["filters[0]", "exactly one"])
        expectError(Self.good + "\nfilters:\n  - {priceBand: {min: 5, max: 1}}\n", containing: ["filters[0].priceBand"])
        expectError(Self.good + "\nfilters:\n  - {symbols: [TOOLONGSYMBOL]}\n", containing: ["filters[0].symbols"])
        expectError(
            Self.good.replacingOccurrences(
                of: "    protocol: moldudp64-itch50\n", with: "    protocol: moldudp64-itch50\n    timestamps: atomic\n"),
            containing: ["feeds[0].timestamps"])
    }

    /// Entitlements decide what a tenant may see: every way an operator can get one wrong is refused by key, never
    /// read as something narrower or wider than written.
    @Test func badEntitlementsNameTheKey() throws {
        let secured = Self.good + "\n  clientCA: /ca.pem\n  entitlements:\n"
        func with(_ entries: String...) -> String { secured + entries.map { "    - \($0)\n" }.joined() }
        expectError(
            Self.good + "\n  entitlements:\n    - {subject: \"CN=alice\"}\n",
            containing: ["publisher.entitlements", "needs publisher.clientCA"])
        expectError(with("{symbols: [AAPL]}"), containing: ["publisher.entitlements[0]", "names no client"])
        expectError(with("{subject: alice}"), containing: ["publisher.entitlements[0].subject", "'alice' is not CN=NAME"])
        expectError(with("{subject: \"CN=\"}"), containing: ["publisher.entitlements[0].subject", "is not CN=NAME"])
        expectError(
            with("{subject: \"CN=alice\", kinds: [trade, quotes]}"),
            containing: ["publisher.entitlements[0].kinds[1]", "'quotes' is not allowed", "did you mean 'quote'"])
        expectError(with("{subject: \"CN=alice\", kinds: []}"), containing: ["publisher.entitlements[0].kinds", "is empty"])
        expectError(with("{subject: \"CN=alice\", symbols: []}"), containing: ["publisher.entitlements[0].symbols", "is empty"])
        expectError(
            with("{subject: \"CN=alice\", symbols: [TOOLONGSYMBOL]}"),
            containing: ["publisher.entitlements[0].symbols", "'TOOLONGSYMBOL'"])
        expectError(
            with("{subject: \"CN=alice\", kinds: [trade]}", "{subject: \"CN=alice\", kinds: [quote]}"),
            containing: ["publisher.entitlements[1].subject", "already given by publisher.entitlements[0]"])
        expectError(
            with("{san: risk.example.com}", "{san: risk.example.com, symbols: [AAPL]}"),
            containing: ["publisher.entitlements[1].san", "already given"])
        expectError(with("{san: \"risk desk\"}"), containing: ["publisher.entitlements[0].san", "not a DNS name"])
        expectError(with("{subject: \"CN=alice\", tier: gold}"), containing: ["publisher.entitlements[0]", "tier"])
        // The same entries, written right, load into entitlements that match by CN and by SAN.
        let loaded = try load(
            with("{subject: \"CN=alice\", symbols: [AAPL], kinds: [trade, quote]}", "{san: risk.example.com, kinds: [status]}"))
        let entitlements = try #require(loaded.entitlements)
        let alice = entitlements.allowed(for: ClientIdentity(commonName: "alice", dnsNames: []))
        #expect(alice?.symbols.count == 1 && alice?.everySymbol.isEmpty == true)
        let risk = entitlements.allowed(for: ClientIdentity(commonName: "desk-7", dnsNames: ["risk.example.com"]))
        #expect(risk?.everySymbol == TickSelection.Kinds([.status]))
        #expect(entitlements.allowed(for: ClientIdentity(commonName: "mallory", dnsNames: ["evil.example.com"])) == nil)
    }

    @Test func metricsListenIsAnAddressNoPublisherHolds() throws {
        #expect(try load(Self.good + "\nmetrics:\n  listen: 127.0.0.1:9464\n").metricsListen?.description == "127.0.0.1:9464")
        #expect(try load(Self.good).metricsListen == nil)
        expectError(Self.good + "\nmetrics:\n  listen: nowhere\n", containing: ["metrics.listen", "'nowhere' is not HOST:PORT"])
        expectError(
            Self.good + "\nmetrics:\n  listen: 0.0.0.0:9443\n", containing: ["metrics.listen", "also where 'publish' listens"])
        expectError(Self.good + "\nmetrics:\n  port: 9464\n", containing: ["metrics", "port"])
    }

    @Test func timestampsChooseTheClock() throws {
        #expect(try load(Self.good).timestamps == .software)
        let hardware = Self.good.replacingOccurrences(
            of: "    protocol: moldudp64-itch50\n", with: "    protocol: moldudp64-itch50\n    timestamps: hardware\n")
        #expect(try load(hardware).timestamps == .hardware)
    }
}
