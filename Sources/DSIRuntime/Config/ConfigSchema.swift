import DSICore
import DSIFeeds
import DSINet

// The configuration's schema: what `dsi run --config` reads (docs/configuration.md). Each section lists its keys and
// what each holds (`fields`): the YAML is checked against them before it is decoded, so an unknown key, a number out
// of range or a word that is not a choice is refused with a message that says what is allowed.

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
    /// Where `/metrics`, `/healthz` and `/readyz` are served (HTTP); none without it.
    public var metrics: MetricsConfig?
    /// The local admin socket `dsi ctl` talks to.
    public var admin: AdminConfig?
    /// The log level (trace, debug, info, notice, warning, error, critical): overrides `--log-level`, and a reload
    /// changes it.
    public var logLevel: String?

    public init(feeds: [FeedConfig], publisher: PublisherConfig, workers: [WorkerConfig]? = nil) {
        self.feeds = feeds
        self.publisher = publisher
        self.workers = workers
    }
}

/// `admin:`: the Unix domain socket of `dsi ctl status` and `dsi ctl reload`.
public struct AdminConfig: Codable, Sendable {
    /// Its path; absent: `dsi.sock` in the state directory.
    public var socket: String?

    public init(socket: String? = nil) { self.socket = socket }
}

/// `metrics:`: the HTTP endpoint for Prometheus and health checks.
public struct MetricsConfig: Codable, Sendable {
    /// HOST:PORT to listen on.
    public var listen: String

    public init(listen: String) { self.listen = listen }
}

public struct FeedConfig: Codable, Sendable {
    /// Bytes of receive buffer each line socket asks for when `receiveBuffer` is not given.
    public static let defaultReceiveBuffer = 16 << 20

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
    /// How long a line that stopped sending is still waited for before a range it may hold is re-requested, ms.
    public var lineWaitMs: Double?
    /// The longest a range waits for the lines, whatever they do, ms.
    public var maxLineLagMs: Double?
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
    /// Connections open at once (handshaking or subscribed); more are closed as they arrive.
    public var maxConnections: Int?
    /// Connections open at once from one client address.
    public var maxConnectionsPerAddress: Int?
    /// TLS handshakes in progress at once.
    public var maxHandshakes: Int?
    /// A connection that has not finished its TLS handshake this long after it was accepted is closed, ms.
    public var handshakeTimeoutMs: Double?
    /// Log lines per second for each kind of repeated connection event; the rest are counted and summarised.
    public var logLinesPerSecond: Int?
    /// Where every published tick is journaled (a file per day; per publish node when there are several): the
    /// stream's numbering survives a restart, and subscribers resume from any sequence of the day. Absent: none.
    public var journal: String?
    /// Days of journals kept (today's included).
    public var retention: Int?
    /// Symbols one subscriber may hold.
    public var maxSymbolsPerSubscriber: Int?
    /// A subscriber that falls behind: `disconnect` it, or `conflate` its quotes (every trade, status and gap tick
    /// kept) and disconnect it after `conflateGraceMs`.
    public var slowConsumer: TLSPublisher.SlowConsumerPolicy?
    public var conflateGraceMs: Double?
    /// Mutual TLS: subscribers must present a certificate this CA (PEM) signed.
    public var clientCA: String?
    /// What each client certificate may receive (needs `clientCA`); absent: every client may take everything.
    public var entitlements: [EntitlementConfig]?

    public init(listen: String) { self.listen = listen }
}

public enum BackPressure: String, Codable, Sendable, CaseIterable { case block, drop }

/// One entitlement: a client certificate (by subject `CN=NAME` or a DNS subjectAltName) and the symbols and kinds it
/// may receive (absent: all).
public struct EntitlementConfig: Codable, Sendable {
    public var subject: String?
    public var san: String?
    public var symbols: [String]?
    public var kinds: [String]?

    public init(subject: String? = nil, san: String? = nil, symbols: [String]? = nil, kinds: [String]? = nil) {
        self.subject = subject
        self.san = san
        self.symbols = symbols
        self.kinds = kinds
    }
}

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
        public init(min: UInt32, max: UInt32) {
            self.min = min
            self.max = max
        }
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

/// One node of the processing graph in the config (`graph:`), or built in code.
public struct NodeConfig: Codable, Sendable {
    public var name: String
    /// `feed` (the configured feed: arbitration, decode, books, ticks), `filter`, or `publish` (the TLS publisher).
    public var kind: String
    /// The node whose ticks this one takes (none for a feed).
    public var input: String?
    /// Several nodes whose ticks this one takes (a filter or publish node joining feeds); instead of `input`.
    public var inputs: [String]?
    public var options: NodeOptions?
    /// For a feed or publish node sharing its worker with the other: the higher is polled every duty cycle, the
    /// lower only when the higher is idle (and at least every few cycles). Default 0; equal means both every cycle.
    public var priority: Int?

    public init(
        name: String, kind: String, input: String? = nil, inputs: [String]? = nil, options: NodeOptions? = nil,
        priority: Int? = nil
    ) {
        self.name = name
        self.kind = kind
        self.input = input
        self.inputs = inputs
        self.options = options
        self.priority = priority
    }
}

/// A node's options: a filter takes exactly one of `symbols`, `kinds`, `priceBand`; `publish` takes `backPressure`
/// for the ring in front of it when it runs on another worker, and `listen` (address:port) when the graph has more
/// than one publish node (one of them may leave it out and take `publisher.listen`); a feed node takes `feed`, the
/// name of the configured feed it runs, when it is not named after it.
public struct NodeOptions: Codable, Sendable {
    public var feed: String?
    /// A `nats` node's NATS servers (`nats://HOST:PORT`, one or more of the cluster).
    public var servers: [String]?
    /// A `nats` node's subject prefix: ticks go to `PREFIX.FEED.KIND.SYMBOL` (default `dsi`).
    public var subjectPrefix: String?
    /// A `nats` node's payload: `json` (the tick's jsonl object, default) or `binary` (the 112-byte tick).
    public var encoding: String?
    /// A `nats` node's JetStream stream: ticks are published to it and acknowledged (absent: core NATS).
    public var jetstream: String?
    public var symbols: [String]?
    public var kinds: [String]?
    public var priceBand: FilterConfig.PriceBand?
    public var backPressure: BackPressure?
    public var listen: String?

    public init(
        feed: String? = nil, symbols: [String]? = nil, kinds: [String]? = nil, priceBand: FilterConfig.PriceBand? = nil,
        backPressure: BackPressure? = nil, listen: String? = nil
    ) {
        self.feed = feed
        self.symbols = symbols
        self.kinds = kinds
        self.priceBand = priceBand
        self.backPressure = backPressure
        self.listen = listen
    }
}

// MARK: Fields

extension HandlerConfig: ConfigSection {
    public static let fields: [(key: String, field: ConfigField)] = [
        ("feeds", .list(.section(FeedConfig.self))),
        ("publisher", .section(PublisherConfig.self)),
        ("workers", .list(.section(WorkerConfig.self))),
        ("filters", .list(.section(FilterConfig.self))),
        ("graph", .list(.section(NodeConfig.self))),
        ("metrics", .section(MetricsConfig.self)),
        ("admin", .section(AdminConfig.self)),
        ("logLevel", .choice(["trace", "debug", "info", "notice", "warning", "error", "critical"])),
    ]
}

extension AdminConfig: ConfigSection {
    public static let fields: [(key: String, field: ConfigField)] = [("socket", .text)]
}

extension MetricsConfig: ConfigSection {
    public static let fields: [(key: String, field: ConfigField)] = [("listen", .text)]
}

extension FeedConfig: ConfigSection {
    public static let fields: [(key: String, field: ConfigField)] = [
        ("name", .text),
        ("protocol", .choice(["moldudp64-itch50"])),
        ("interface", .text),
        ("lines", .list(.section(LineConfig.self))),
        ("maxOrders", .integer(1...(1 << 28), unit: "orders")),
        ("receiveBuffer", .integer(65_536...(1 << 30), unit: "bytes")),
        ("busyPollMicros", .integer(0...10_000, unit: "µs")),
        ("timestamps", .choice(of: Timestamps.self)),
        ("recovery", .text),
        ("lineWaitMs", .number(0...10_000, unit: "ms")),
        ("maxLineLagMs", .number(1...60_000, unit: "ms")),
        ("recoveryTimeoutMs", .number(1...60_000, unit: "ms")),
        ("recoveryRetries", .integer(1...100, unit: "")),
        ("requestMessages", .integer(1...65_535, unit: "messages")),
        ("maxRequestsInFlight", .integer(1...4_096, unit: "requests")),
        ("requestsPerSecond", .number(1...1_000_000, unit: "requests per second")),
        ("holdBytes", .integer(Int64(PendingPackets.slotSize * 16)...(16 << 30), unit: "bytes")),
        ("session", .text),
        ("join", .text),
        ("confirmPackets", .integer(1...64, unit: "packets")),
        ("sequenceSlack", .integer(1...(1 << 40), unit: "messages")),
        ("maxMessagesPerSecond", .integer(1_000...1_000_000_000, unit: "messages per second")),
    ]
}

extension LineConfig: ConfigSection {
    public static let fields: [(key: String, field: ConfigField)] = [("name", .text), ("group", .text)]
}

extension PublisherConfig: ConfigSection {
    public static let fields: [(key: String, field: ConfigField)] = [
        ("listen", .text),
        ("certificate", .text),
        ("key", .text),
        ("stateDirectory", .text),
        ("maxQueuedBytes", .integer(65_536...(1 << 30), unit: "bytes")),
        ("backPressure", .choice(of: BackPressure.self)),
        ("ringSlots", .integer(64...(1 << 24), unit: "slots")),
        ("maxConnections", .integer(1...65_536, unit: "connections")),
        ("maxConnectionsPerAddress", .integer(1...65_536, unit: "connections")),
        ("maxHandshakes", .integer(1...65_536, unit: "handshakes")),
        ("handshakeTimeoutMs", .number(100...60_000, unit: "ms")),
        ("logLinesPerSecond", .integer(1...1_000, unit: "lines per second")),
        ("journal", .text),
        ("retention", .integer(1...3_660, unit: "days")),
        ("maxSymbolsPerSubscriber", .integer(1...1_000_000, unit: "symbols")),
        ("slowConsumer", .choice(of: TLSPublisher.SlowConsumerPolicy.self)),
        ("conflateGraceMs", .number(100...3_600_000, unit: "ms")),
        ("clientCA", .text),
        ("entitlements", .list(.section(EntitlementConfig.self))),
    ]
}

extension EntitlementConfig: ConfigSection {
    public static let fields: [(key: String, field: ConfigField)] = [
        ("subject", .text),
        ("san", .text),
        ("symbols", .list(.text)),
        ("kinds", .list(.choice(Tick.Kind.allCases.map(\.name)))),
    ]
}

extension FilterConfig: ConfigSection {
    public static let fields: [(key: String, field: ConfigField)] = [
        ("symbols", .list(.text)),
        ("kinds", .list(.choice(Tick.Kind.allCases.map(\.name)))),
        ("priceBand", .section(FilterConfig.PriceBand.self)),
    ]
}

extension FilterConfig.PriceBand: ConfigSection {
    public static let fields: [(key: String, field: ConfigField)] = [
        ("min", .integer(0...Int64(UInt32.max), unit: "price units of 1/10000")),
        ("max", .integer(0...Int64(UInt32.max), unit: "price units of 1/10000")),
    ]
}

extension WorkerConfig: ConfigSection {
    public static let fields: [(key: String, field: ConfigField)] = [
        ("name", .text),
        ("cpu", .integer(0...4_095, unit: "")),
        ("idle", .choice(of: IdleStrategyKind.self)),
        ("nodes", .list(.text)),
    ]
}

extension NodeConfig: ConfigSection {
    public static let fields: [(key: String, field: ConfigField)] = [
        ("name", .text),
        ("kind", .choice(["feed", "filter", "publish", "nats"])),
        ("input", .text),
        ("inputs", .list(.text)),
        ("options", .section(NodeOptions.self)),
        ("priority", .integer(-1_000_000...1_000_000, unit: "")),
    ]
}

extension NodeOptions: ConfigSection {
    public static let fields: [(key: String, field: ConfigField)] = [
        ("feed", .text),
        ("servers", .list(.text)),
        ("subjectPrefix", .text),
        ("encoding", .choice(["json", "binary"])),
        ("jetstream", .text),
        ("symbols", .list(.text)),
        ("kinds", .list(.choice(Tick.Kind.allCases.map(\.name)))),
        ("priceBand", .section(FilterConfig.PriceBand.self)),
        ("backPressure", .choice(of: BackPressure.self)),
        ("listen", .text),
    ]
}
