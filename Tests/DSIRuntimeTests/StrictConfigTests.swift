import DSIFeeds
import DSINet
import DSIRuntime
import DSITestSupport
import Foundation
import Testing

/// The configuration mistakes a tired operator makes, each refused before anything starts with the file, the key and
/// what is allowed; and the schema that makes it so, held against the decoders it describes.
@Suite struct StrictConfigTests {
    static let good = ConfigTests.good

    func refused(_ yaml: String, file: String = "c.yaml") -> String {
        do {
            _ = try HandlerConfig.load(text: yaml, file: file)
            Issue.record("accepted:\n\(yaml)")
            return ""
        } catch {
            #expect(error is ConfigError, "\(error)")
            return "\(error)"
        }
    }

    func withFeedKey(_ line: String) -> String {
        Self.good.replacingOccurrences(
            of: "    protocol: moldudp64-itch50\n", with: "    protocol: moldudp64-itch50\n    \(line)\n")
    }

    @Test func theIssuesMistakesAreRefusedNamingTheKeyAndWhatIsAllowed() {
        let cases: [(String, [String])] = [
            (
                withFeedKey("receiveBuffer: 3000000000"),
                ["c.yaml: feeds[0].receiveBuffer:", "out of range", "65 536 to 1 073 741 824"]
            ),
            (withFeedKey("busyPollMicros: 3000000000"), ["feeds[0].busyPollMicros:", "out of range", "0 to 10 000"]),
            (withFeedKey("maxOrders: 1073741824"), ["feeds[0].maxOrders:", "out of range", "1 to 268 435 456"]),
            (withFeedKey("maxOrder: 1000"), ["feeds[0].maxOrder:", "unknown key", "did you mean 'maxOrders'?"]),
            (Self.good + "\n  maxQueueBytes: 10\n", ["publisher.maxQueueBytes:", "did you mean 'maxQueuedBytes'?"]),
            (Self.good + "\ncolour: blue\n", ["colour:", "unknown key", "feeds, publisher, workers, filters, graph"]),
            (withFeedKey("receiveBuffer: 0"), ["feeds[0].receiveBuffer:", "0 bytes is out of range"]),
            (withFeedKey("receiveBuffer: -1"), ["feeds[0].receiveBuffer:", "-1 bytes is out of range"]),
            (
                Self.good + "\nworkers:\n  - {name: pipeline, idle: sleepy}\n",
                ["workers[0].idle:", "'sleepy' is not allowed", "spin, yield, backoff"]
            ),
            (withFeedKey("timestamps: atomic"), ["feeds[0].timestamps:", "software, hardware"]),
            (withFeedKey("join: latest"), ["feeds[0].join:", "first, recover, or a sequence number"]),
            (withFeedKey("lineWaitMs: lots"), ["feeds[0].lineWaitMs:", "'lots' is not a number"]),
            (withFeedKey("maxOrders: 1e6"), ["feeds[0].maxOrders:", "not a whole number"]),
            (
                Self.good.replacingOccurrences(
                    of:
                        "    lines:\n      - {name: A, group: \"239.255.0.1:30001\"}\n      - {name: B, group: \"239.255.0.2:30001\"}",
                    with: "    lines: {A: 1}"), ["feeds[0].lines:", "expected a list"]
            ),
            (withFeedKey("interface: 10.0.0.1"), ["a key is given twice", "'interface'"]),
            (Self.good + "\npublisher2: {}\n", ["did you mean 'publisher'?"]),
            ("- just\n- a list\n", ["expected a mapping of keys"]),
            ("feeds: [\n", ["c.yaml:", "invalid YAML at"]),
            ("# nothing but a comment\n", ["holds no configuration"]),
        ]
        for (yaml, parts) in cases {
            let clock = ContinuousClock()
            var message = ""
            let took = clock.measure { message = refused(yaml) }
            for part in parts { #expect(message.contains(part), "\(message)") }
            #expect(!message.contains("\n"), "one line: \(message)")
            #expect(took < .seconds(1))
        }
    }

    @Test func aConfigBuiltInCodeIsHeldToTheSameRanges() {
        var feed = FeedConfig(name: "f", interface: "127.0.0.1", lines: [LineConfig(name: "A", group: "239.1.1.1:3000")])
        feed.receiveBuffer = 3_000_000_000
        #expect {
            try HandlerConfig(feeds: [feed], publisher: PublisherConfig(listen: "127.0.0.1:0")).validated(file: "(code)")
        } throws: { "\($0)".contains("feeds[0].receiveBuffer") && "\($0)".contains("out of range") }
    }

    @Test func moreMemoryThanTheMachineHasIsRefused() throws {
        let config = try HandlerConfig.load(text: withFeedKey("maxOrders: 100000000"), file: "c.yaml")
        #expect { try MachineLimits.check(config, available: 2 << 30) } throws: { error in
            let text = "\(error)"
            return text.contains("feeds[0].maxOrders") && text.contains("2.0 GiB available") && text.contains("lower it")
        }
        try MachineLimits.check(config, available: 64 << 30)
        #expect(MachineLimits.memory(for: config).first?.key == "feeds[0].maxOrders")
    }

    @Test func fileProblemsAreSaidInPlainWords() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        #expect { try HandlerConfig.load(path: dir.path) } throws: { "\($0)".contains("is a directory") }
        #expect { try HandlerConfig.load(path: "/nonexistent/dsi.yaml") } throws: {
            "\($0)" == "/nonexistent/dsi.yaml: no such file"
        }
        _ = FileManager.default.createFile(atPath: dir.file("empty.yaml"), contents: Data())
        #expect { try HandlerConfig.load(path: dir.file("empty.yaml")) } throws: { "\($0)".contains("the file is empty") }
        _ = FileManager.default.createFile(atPath: dir.file("bin.yaml"), contents: Data([0xFF, 0xFE, 0x00, 0x80]))
        #expect { try HandlerConfig.load(path: dir.file("bin.yaml")) } throws: { "\($0)".contains("not UTF-8 text") }
        _ = FileManager.default.createFile(
            atPath: dir.file("big.yaml"), contents: Data(repeating: 0x20, count: HandlerConfig.maxFileSize + 1))
        #expect { try HandlerConfig.load(path: dir.file("big.yaml")) } throws: { "\($0)".contains("too large") }
    }

    /// Every section's field table lists exactly the keys its decoder reads: encoding a value with every optional
    /// set shows the decoder's keys.
    @Test func theSchemaListsExactlyTheKeysTheDecodersRead() throws {
        func keys<T: Encodable>(_ value: T) throws -> Set<String> {
            Set((try JSONSerialization.jsonObject(with: JSONEncoder().encode(value)) as! [String: Any]).keys)
        }
        func fields(_ section: any ConfigSection.Type) -> Set<String> { Set(section.fields.map(\.key)) }
        var feed = FeedConfig(name: "f", interface: "i", lines: [])
        feed.maxOrders = 1; feed.receiveBuffer = 1; feed.busyPollMicros = 1; feed.timestamps = .software
        feed.recovery = "r"; feed.lineWaitMs = 1; feed.maxLineLagMs = 1; feed.recoveryTimeoutMs = 1; feed.recoveryRetries = 1
        feed.requestMessages = 1; feed.maxRequestsInFlight = 1; feed.requestsPerSecond = 1; feed.holdBytes = 1
        feed.session = "s"; feed.join = "first"; feed.confirmPackets = 1; feed.sequenceSlack = 1; feed.maxMessagesPerSecond = 1
        #expect(try keys(feed) == fields(FeedConfig.self))
        var publisher = PublisherConfig(listen: "l")
        publisher.certificate = "c"; publisher.key = "k"; publisher.stateDirectory = "d"; publisher.maxQueuedBytes = 1
        publisher.backPressure = .drop; publisher.ringSlots = 1; publisher.maxConnections = 1;
        publisher.maxConnectionsPerAddress = 1
        publisher.maxHandshakes = 1; publisher.handshakeTimeoutMs = 1; publisher.logLinesPerSecond = 1
        publisher.journal = "j"; publisher.retention = 1; publisher.maxSymbolsPerSubscriber = 1; publisher.clientCA = "c"
        publisher.entitlements = []; publisher.slowConsumer = .conflate; publisher.conflateGraceMs = 1
        #expect(try keys(publisher) == fields(PublisherConfig.self))
        #expect(try keys(EntitlementConfig(subject: "s", san: "n", symbols: [], kinds: [])) == fields(EntitlementConfig.self))
        var handler = HandlerConfig(feeds: [], publisher: publisher, workers: [])
        handler.filters = []; handler.graph = []; handler.metrics = MetricsConfig(listen: "l")
        handler.admin = AdminConfig(socket: "s"); handler.logLevel = "info"
        #expect(try keys(handler) == fields(HandlerConfig.self))
        #expect(try keys(LineConfig(name: "n", group: "g")) == fields(LineConfig.self))
        #expect(try keys(MetricsConfig(listen: "l")) == fields(MetricsConfig.self))
        #expect(try keys(AdminConfig(socket: "s")) == fields(AdminConfig.self))
        #expect(try keys(WorkerConfig(name: "w", cpu: 0, idle: .spin, nodes: [])) == fields(WorkerConfig.self))
        #expect(try keys(FilterConfig(symbols: [], kinds: [], priceBand: .init(min: 0, max: 1))) == fields(FilterConfig.self))
        #expect(
            try keys(NodeConfig(name: "n", kind: "feed", input: "i", inputs: [], options: NodeOptions(), priority: 0))
                == fields(NodeConfig.self))
        var options = NodeOptions(
            feed: "f", symbols: [], kinds: [], priceBand: .init(min: 0, max: 1), backPressure: .drop, listen: "l")
        options.servers = []; options.subjectPrefix = "p"; options.encoding = "json"; options.jetstream = "j"
        #expect(try keys(options) == fields(NodeOptions.self))
    }

    @Test func checkPrintsTheResolvedConfigAndStartsNothing() throws {
        let result = try Commands.run(
            Commands.dsi, ["run", "--check", "--config", Commands.root + "/feeds/loopback.yaml"], timeout: 30)
        #expect(result.status == 0, "\(result.stderr)")
        for line in [
            "lineWaitMs: 10", "join: first", "confirmPackets: 3", "maxConnections: 1024", "ringSlots: 65536",
            "# memory allocated at start:", "feeds[0].maxOrders:",
        ] {
            #expect(result.stdout.contains(line), "\(line) in:\n\(result.stdout)")
        }
        // The resolved form is itself a valid configuration that resolves the same.
        let resolved = try HandlerConfig.load(text: result.stdout, file: "resolved.yaml")
        #expect(resolved.recovery.lineWaitNanos == 10_000_000 && resolved.connectionLimits == ConnectionLimits())
        let bad = try Commands.run(Commands.dsi, ["run", "--check", "--config", "/nonexistent.yaml"], timeout: 30)
        #expect(bad.status == 1 && bad.stderr == "dsi: error: /nonexistent.yaml: no such file\n")
    }

    /// Whether the kernel grants a receive buffer beyond `net.core.rmem_max` depends on CAP_NET_ADMIN, not on being
    /// root: the check asks for it on a socket, as a line will. Without the capability (root with it dropped from
    /// the bounding set) a 512 MiB buffer is refused before anything starts; with it, it is granted.
    @Test func aReceiveBufferTheKernelWillNotGrantIsRefusedByTheCheck() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try withFeedKey("receiveBuffer: 536870912").write(toFile: dir.file("big.yaml"), atomically: true, encoding: .utf8)
        let check = [Commands.dsi, "run", "--check", "--config", dir.file("big.yaml")]
        let without = try Commands.run(
            "/usr/bin/setpriv", ["--bounding-set=-net_admin", "--inh-caps=-net_admin"] + check, timeout: 30)
        #expect(without.status == 1, "\(without.stderr)")
        for part in ["big.yaml: feeds[0].receiveBuffer:", "asked for a 536870912-byte receive buffer", "CAP_NET_ADMIN"] {
            #expect(without.stderr.contains(part), "\(without.stderr)")
        }
        let with = try Commands.run(check[0], Array(check.dropFirst()), timeout: 30)
        #expect(with.status == 0, "root with CAP_NET_ADMIN is granted it: \(with.stderr)")
    }
}
