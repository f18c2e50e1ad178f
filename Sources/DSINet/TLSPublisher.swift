import CDSIShims
import COpenSSL
import CUV
import DSICore
import Glibc
import Logging
import Synchronization

/// Publishes ticks to subscribers over TLS 1.3, on a libuv loop the publisher's worker polls (protocol v2,
/// docs/publish-protocol.md).
///
/// Each poll drains a batch of ticks from the publish ring, numbers them (stream and topic sequences), keeps the
/// symbols' images, and hands each tick to the sessions that subscribed to it (`SubscriptionIndex`), encoded once per
/// encoding; each session's share of the batch is encrypted and written once. What a socket does not take is queued;
/// a subscriber whose queue grows past `maxQueuedBytes` is a slow consumer and is disconnected, so it can never hold
/// back the others or grow memory without bound.
///
/// The code is split by concern: connections and handshakes (`+Connections`), client frames and logins
/// (`+Requests`), subscriptions and images (`+Subscriptions`), the batch fan-out (`+FanOut`), write queues and slow
/// consumers (`+Writes`), timers (`+Timers`), shutdown (`+Shutdown`) and the libuv callbacks.
///
/// - warning: All methods must be called on the one thread that polls it.
public final class TLSPublisher {
    public struct Options: Sendable {
        public var listen: IPv4Endpoint
        public var certificate: String
        public var key: String
        /// A subscriber further behind than this many bytes is disconnected.
        public var maxQueuedBytes = 8 << 20
        /// Ticks taken from the ring per poll.
        public var batch = 256
        /// Bounds on connections: how many, from one address, handshaking at once, for how long; log rates.
        public var limits = ConnectionLimits()
        /// Bounds on what a logged-in subscriber may ask and how long it may be silent.
        public var subscriberLimits = SubscriberLimits()
        /// The journal of every published tick (resume, numbering across restarts); nil: none.
        public var journal: JournalOptions? = nil
        /// What happens to a subscriber that falls behind, and how long a conflating one may stay behind (ns).
        public var slowConsumer = SlowConsumerPolicy.disconnect
        public var conflateGraceNanos: UInt64 = 10_000_000_000
        /// Mutual TLS: clients must present a certificate this CA (PEM) signed; nil: no client certificates.
        public var clientCA: String? = nil
        /// What each client certificate may receive (with `clientCA`); nil: every client may take everything.
        public var entitlements: Entitlements? = nil
        /// Per-tick stage times for `dsi bench jitter` (dequeued, written); nil in production.
        public var stamps: StageStamps? = nil

        public init(listen: IPv4Endpoint, certificate: String, key: String) {
            self.listen = listen
            self.certificate = certificate
            self.key = key
        }
    }

    /// As started, then as reloaded (the slow-consumer settings may change; the rest stays as started). Written and
    /// read on the publisher's thread only, after start.
    public internal(set) var options: Options
    /// The port actually listened on (differs from the option when that was 0).
    public private(set) var port: UInt16 = 0
    public let sessionsAccepted = Counter()
    public let handshakeFailures = Counter()
    public let slowConsumerDisconnects = Counter()
    public let ticksPublished = Counter()
    /// Logged-in sessions now (a gauge).
    public let subscribers = Counter()
    /// Subscribe, unsubscribe and resume requests taken, and refused (an error frame sent).
    public let requestsTaken = Counter()
    public let requestsRefused = Counter()
    /// Subscribers cut off for breaking the protocol: malformed or oversized frames, too many, no login, silence.
    public let protocolErrors = Counter()
    /// Quotes not sent to conflating subscribers (replaced by a later one of the same symbol).
    public let quotesConflated = Counter()
    /// Called on the publisher's thread after each batch is written, with the receive-to-written latency (ns) of
    /// the batch's first tick, the one that waited longest: a sample per batch, so the cost is one clock read and
    /// one call however many ticks the batch held. Set before the publisher's worker starts; nil: not measured.
    public var onBatchLatency: ((UInt64) -> Void)? = nil
    /// Image ticks sent to new subscriptions, and journal ticks sent to resuming ones.
    public let imageTicksSent = Counter()
    public let catchUpTicksSent = Counter()
    /// Ticks the pipeline made again after a restart for messages already journaled (not published twice).
    public let ticksSuppressed = Counter()
    /// 1 when the journal's tail was found damaged at start, or the journal failed while running.
    public let journalDamaged = Counter()
    public let journalFailed = Counter()
    public let handshakeTimeouts = Counter()
    /// Subscribers cut off because what they sent after the handshake did not decrypt (a corrupted or forged stream).
    public let streamErrors = Counter()
    /// Connections closed on arrival because a limit was reached (`ConnectionLimits`).
    public let connectionsRefused = Counter()
    /// Connections open now (handshaking, subscribed, or closing): a gauge any thread may read.
    public let openConnections = Counter()
    /// Open connections by client address, and handshakes in progress: what the limits are held against.
    var connectionsByAddress: [UInt32: Int] = [:]
    var handshaking = 0
    var connectionLog: ConnectionLog
    /// When the log's held-back lines were last summarised (monotonic ns).
    var lastLogSummary: UInt64 = 0
    /// When handshake deadlines were last checked (monotonic ns): at most every 100 ms.
    var lastDeadlineCheck: UInt64 = 0
    /// The stream sequence of the last tick sent.
    public internal(set) var lastStreamSeq: UInt64 = 0
    /// The first stream sequence a resume can start at: the journal holds the day from 1; without one, nothing
    /// before the live stream is retained.
    var firstRetained: UInt64 { journal != nil ? 1 : lastStreamSeq + 1 }
    /// The stream's day (YYYYMMDD) when its numbering survives a restart (a journal); 0 when it starts again from 1.
    var streamDay: UInt32 = 0
    var journal: Journal? = nil
    var suppression: Suppression? = nil
    /// Sessions behind and conflating their quotes.
    var conflatingSessions: [TLSSession] = []
    /// Sessions resuming from the journal, not yet at the live stream.
    var catchingUp: [TLSSession] = []
    /// When the journal's pages were last flushed (monotonic ns).
    var lastJournalFlush: UInt64 = 0

    /// Numbers ticks in their topics; keeps each symbol's latest state; finds a tick's subscribers.
    let topics = TopicSequencer()
    var images = ImageStore()
    var index = SubscriptionIndex()
    /// The batch being sent: the numbered ticks, their binary frames, and other encodings built on demand.
    let batchTicks: UnsafeMutablePointer<Tick>
    var encoded: EncodedBatch
    /// Sessions with frames pending from the batch being sent.
    var touched: [TLSSession] = []
    /// When heartbeats and silences were last checked (monotonic ns).
    var lastTimerCheck: UInt64 = 0
    /// The subscribers as last taken (`subscriberSnapshots`), and when (monotonic ns).
    let snapshots = Mutex<[SubscriberSnapshot]>([])
    var lastSnapshot: UInt64 = 0

    /// Replaced by a reload (`requestReload`); sessions keep the one they were made with.
    var context: TLSContext
    var entitlements: Entitlements?
    /// A reload asked for by another thread, applied by the polling one.
    let pendingReload = Mutex<Reload?>(nil)
    let loop: UnsafeMutablePointer<uv_loop_t>
    let server: UnsafeMutablePointer<uv_tcp_t>
    var sessions: [ObjectIdentifier: TLSSession] = [:]
    let logger: Logger
    /// Scratch shared by all sessions: libuv reads into it and OpenSSL output passes through it.
    let readBuffer: UnsafeMutableRawPointer
    let scratch: UnsafeMutableRawPointer
    static let bufferSize = 64 << 10
    let frames: UnsafeMutableRawPointer
    var closed = false

    public init(_ options: Options, logger: Logger) throws {
        self.options = options
        self.logger = logger
        connectionLog = ConnectionLog(logger: logger, perSecond: options.limits.logLinesPerSecond)
        // In any host process, not just `dsi run`: a subscriber that resets its connection must not kill us.
        CDSIShims_ignore_sigpipe()
        context = try TLSContext.server(certificate: options.certificate, key: options.key, clientCA: options.clientCA)
        entitlements = options.entitlements
        loop = .allocate(capacity: 1)
        server = .allocate(capacity: 1)
        readBuffer = .allocate(byteCount: Self.bufferSize, alignment: 64)
        scratch = .allocate(byteCount: Self.bufferSize, alignment: 64)
        frames = .allocate(byteCount: options.batch * PublishProtocol.tickFrameSize, alignment: 64)
        batchTicks = .allocate(capacity: options.batch)
        encoded = EncodedBatch(capacity: options.batch)
        // Every property is set, so deinit runs if a step below throws: until the loop and the listener exist, it
        // has nothing of theirs to close (closing a handle libuv never initialised is undefined).
        closed = true
        try Libuv.check("uv_loop_init", uv_loop_init(loop))
        loop.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        do {
            try Libuv.check("uv_tcp_init", uv_tcp_init(loop, server))
        } catch {
            uv_loop_close(loop)
            throw error
        }
        server.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        closed = false  // from here deinit closes the listener and the loop (a failed bind or listen included)
        _ = try withSocketAddress(options.listen) { address, _ in
            try Libuv.check("binding \(options.listen)", uv_tcp_bind(server, address, 0))
        }
        try Libuv.check("listening on \(options.listen)", uv_listen(serverStream, 128, onConnection))
        var name = sockaddr_in()
        var length = Int32(MemoryLayout<sockaddr_in>.size)
        _ = try withUnsafeMutablePointer(to: &name) {
            try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                try Libuv.check("uv_tcp_getsockname", uv_tcp_getsockname(server, $0, &length))
            }
        }
        port = UInt16(bigEndian: name.sin_port)
        if let journalOptions = options.journal { try openJournal(journalOptions) }
    }

    deinit {
        if !closed {
            // Never started or never finished (a later start-up step failed): close the listener and the loop, so
            // the port and the epoll descriptor are not kept.
            for session in Array(sessions.values) { close(session, reason: nil) }
            uv_close(UnsafeMutableRawPointer(server).assumingMemoryBound(to: uv_handle_t.self), nil)
            uv_run(loop, UV_RUN_DEFAULT)
            uv_loop_close(loop)
        }
        loop.deallocate()
        server.deallocate()
        readBuffer.deallocate()
        scratch.deallocate()
        frames.deallocate()
        batchTicks.deallocate()
    }

    var serverStream: UnsafeMutablePointer<uv_stream_t> {
        UnsafeMutableRawPointer(server).assumingMemoryBound(to: uv_stream_t.self)
    }

    // MARK: Polling (the publisher worker's duty cycle)

    /// Sends up to one batch of ticks from `ring` and runs the loop once without blocking.
    /// - Returns: how much work was done (ticks taken from the ring), 0 when idle.
    public func poll(ring: SPSCRing) -> Int {
        var open = OpenGate()
        return poll(ring: ring, gate: &open)
    }

    /// Sends up to one batch of ticks from `ring` that `gate` admits, numbering them with the stream's gap-free
    /// sequence (the numbers are the publisher's: what a gate holds back leaves no hole) and their topics'
    /// sequences, then runs the loop once.
    public func poll<Gate: TickGate>(ring: SPSCRing, gate: inout Gate) -> Int {
        take(from: ring, gate: &gate) + service()
    }

    /// `poll(ring:gate:)` for a publisher fed by several rings (one per worker whose feeds reach it): a batch from
    /// each, then the loop once.
    public func poll<Gate: TickGate>(rings: [SPSCRing], gate: inout Gate) -> Int {
        var taken = 0
        for ring in rings { taken += take(from: ring, gate: &gate) }
        return taken + service()
    }

    /// Numbers, records and writes up to one batch from `ring`; returns the ticks taken from it.
    func take<Gate: TickGate>(from ring: SPSCRing, gate: inout Gate) -> Int {
        let ready = ring.readySlots(limit: options.batch)
        if ready > 0 {
            var count = 0
            for i in 0..<ready {
                var tick = ring.consumerSlot(i).load(as: Tick.self)
                guard gate.admit(tick) else { continue }
                if suppression != nil && alreadyPublished(tick) { continue }
                lastStreamSeq += 1
                tick.streamSeq = lastStreamSeq
                topics.number(&tick)
                images.record(tick)
                journalAppend(tick)
                (batchTicks + count).initialize(to: tick)
                _ = PublishProtocol.writeTickFrame(tick, to: frames + count * PublishProtocol.tickFrameSize)
                count += 1
            }
            ring.release(ready)
            if count > 0 {
                ticksPublished.add(UInt64(count))
                if let stamps = options.stamps { stampBatch(stamps, .dequeued, count: count) }
                fanOut(count: count)
                if let stamps = options.stamps { stampBatch(stamps, .written, count: count) }
                if let onBatchLatency, batchTicks[0].receiveTime > 0 {
                    let now = Clock.realtimeNanos()
                    onBatchLatency(now > batchTicks[0].receiveTime ? now - batchTicks[0].receiveTime : 0)
                }
            }
        }
        return ready
    }

    /// Catch-ups, the loop once, timers and the log: everything of a duty cycle but the ring.
    func service() -> Int {
        let caughtUp = serveCatchUps()
        // uv_run's result only says whether handles are open (the listener always is), so it is not work done.
        uv_run(loop, UV_RUN_NOWAIT)
        // More sessions than subscribers means some are still handshaking: check their deadlines.
        if handshaking > 0 { closeStalledHandshakes() }
        checkTimers()
        if connectionLog.holding { summarizeLog() }
        return caughtUp
    }

    /// Stamps the batch's ticks (by stream sequence) at `stage`: one clock read for the batch, as they move together.
    func stampBatch(_ stamps: StageStamps, _ stage: StageStamps.Stage, count: Int) {
        let now = Clock.realtimeNanos()
        for i in 0..<count { stamps.stamp(stage, batchTicks[i].streamSeq, now) }
    }

    func summarizeLog() {
        let now = Clock.monotonicNanos()
        guard now &- lastLogSummary >= 1_000_000_000 else { return }
        lastLogSummary = now
        connectionLog.summarize()
    }
}
