import CDSIShims
import COpenSSL
import CUV
import DSICore
import Glibc
import Logging

/// Publishes ticks to every connected subscriber over TLS 1.3, on a libuv loop the publisher's worker polls.
///
/// Each poll drains a batch of ticks from the publish ring into one buffer of frames, encrypts it once per session and
/// writes it with `uv_try_write`; what the socket does not take is queued. A subscriber whose queue grows past
/// `maxQueuedBytes` is a slow consumer: it gets a goodbye frame and is disconnected, so it can never hold back the
/// others or grow memory without bound.
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

        public init(listen: IPv4Endpoint, certificate: String, key: String) {
            self.listen = listen
            self.certificate = certificate
            self.key = key
        }
    }

    public let options: Options
    /// The port actually listened on (differs from the option when that was 0).
    public private(set) var port: UInt16 = 0
    public let sessionsAccepted = Counter()
    public let handshakeFailures = Counter()
    public let slowConsumerDisconnects = Counter()
    public let ticksPublished = Counter()
    public let subscribers = Counter()
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
    public private(set) var lastStreamSeq: UInt64 = 0

    let context: TLSContext
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
        context = try TLSContext.server(certificate: options.certificate, key: options.key)
        loop = .allocate(capacity: 1)
        server = .allocate(capacity: 1)
        readBuffer = .allocate(byteCount: Self.bufferSize, alignment: 64)
        scratch = .allocate(byteCount: Self.bufferSize, alignment: 64)
        frames = .allocate(byteCount: options.batch * PublishProtocol.tickFrameSize, alignment: 64)
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
    /// sequence (the numbers are the publisher's: what a gate holds back leaves no hole), then runs the loop once.
    public func poll<Gate: TickGate>(ring: SPSCRing, gate: inout Gate) -> Int {
        let ready = ring.readySlots(limit: options.batch)
        if ready > 0 {
            var bytes = 0
            var sent: UInt64 = 0
            for i in 0..<ready {
                var tick = ring.consumerSlot(i).load(as: Tick.self)
                guard gate.admit(tick) else { continue }
                lastStreamSeq += 1
                tick.streamSeq = lastStreamSeq
                bytes += PublishProtocol.writeTickFrame(tick, to: frames + bytes)
                sent += 1
            }
            ring.release(ready)
            if sent > 0 {
                ticksPublished.add(sent)
                broadcast(UnsafeRawBufferPointer(start: frames, count: bytes), ticks: sent)
            }
        }
        // uv_run's result only says whether handles are open (the listener always is), so it is not work done.
        uv_run(loop, UV_RUN_NOWAIT)
        // More sessions than subscribers means some are still handshaking: check their deadlines.
        if handshaking > 0 { closeStalledHandshakes() }
        if connectionLog.holding { summarizeLog() }
        return ready
    }

    func summarizeLog() {
        let now = Clock.monotonicNanos()
        guard now &- lastLogSummary >= 1_000_000_000 else { return }
        lastLogSummary = now
        connectionLog.summarize()
    }

    /// Closes connections whose handshake outlived `handshakeTimeoutNanos`.
    func closeStalledHandshakes() {
        let now = Clock.monotonicNanos()
        guard now &- lastDeadlineCheck >= 100_000_000 else { return }
        lastDeadlineCheck = now
        for session in Array(sessions.values)
        where session.state == .handshaking && now &- session.acceptedAt > options.limits.handshakeTimeoutNanos {
            handshakeTimeouts.add()
            connectionLog.note(
                .handshakeTimeout, .warning,
                "closing \(session.peer): no TLS handshake within \(options.limits.handshakeTimeoutNanos / 1_000_000) ms")
            close(session, reason: nil)
        }
    }

    /// Sends the same bytes to every established session.
    func broadcast(_ bytes: UnsafeRawBufferPointer, ticks: UInt64) {
        for session in sessions.values where session.state == .established {
            // Writing to a memory BIO cannot block; the only failure is a broken session.
            if SSL_write(session.ssl, bytes.baseAddress, Int32(bytes.count)) <= 0 {
                close(session, reason: TLSError.openssl("encrypting for \(session.peer)").description)
                continue
            }
            session.ticksSent += ticks
            flush(session)
        }
    }

    /// Sends a frame to one session (hello, goodbye).
    func send(_ frame: [UInt8], to session: TLSSession) {
        frame.withUnsafeBytes { _ = SSL_write(session.ssl, $0.baseAddress, Int32($0.count)) }
        flush(session)
    }

    /// Moves OpenSSL's output to the socket: straight out when the socket takes it, queued (copied) when not.
    func flush(_ session: TLSSession) {
        while session.state != .closing {
            let n = BIO_read(session.networkOut, scratch, Int32(Self.bufferSize))
            if n <= 0 { return }
            var written = 0
            if session.queuedBytes == 0 {
                var buf = uv_buf_init(scratch.assumingMemoryBound(to: CChar.self), UInt32(n))
                let w = uv_try_write(session.stream, &buf, 1)
                if w >= 0 {
                    written = Int(w)
                } else if w != Int32(UV_EAGAIN.rawValue) {
                    close(session, reason: Libuv.failure("writing to \(session.peer)", w)!.description)
                    return
                }
            }
            if written < n { queue(session, bytes: scratch + written, count: Int(n) - written) }
        }
    }

    /// Queues bytes libuv could not write now. The request and a copy of the bytes share one allocation, freed when
    /// the write completes.
    func queue(_ session: TLSSession, bytes: UnsafeMutableRawPointer, count: Int) {
        if session.queuedBytes + count > options.maxQueuedBytes {
            slowConsumerDisconnects.add()
            connectionLog.note(
                .slowConsumer, .warning,
                "slow consumer \(session.peer): \(session.queuedBytes + count) bytes behind, disconnecting")
            close(session, reason: "slow consumer: more than \(options.maxQueuedBytes) bytes behind")
            return
        }
        // [byte count][uv_write_t][bytes]
        let header = WriteBlock.requestOffset + MemoryLayout<uv_write_t>.stride
        let block = UnsafeMutableRawPointer.allocate(byteCount: header + count, alignment: 16)
        block.storeBytes(of: count, as: Int.self)
        let request = (block + WriteBlock.requestOffset).bindMemory(to: uv_write_t.self, capacity: 1)
        (block + header).copyMemory(from: bytes, byteCount: count)
        request.pointee.data = Unmanaged.passUnretained(session).toOpaque()
        var buf = uv_buf_init((block + header).assumingMemoryBound(to: CChar.self), UInt32(count))
        session.queuedBytes += count
        let status = uv_write(request, session.stream, &buf, 1, onWriteDone)
        if let failure = Libuv.failure("queueing a write to \(session.peer)", status) {
            session.queuedBytes -= count
            block.deallocate()
            close(session, reason: failure.description)
        }
    }
}
