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
        /// A connection that has not completed its TLS handshake this long after it was accepted is closed (ns): a
        /// client that connects and says nothing must not hold a session for ever.
        public var handshakeTimeoutNanos: UInt64 = 5_000_000_000

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
        // In any host process, not just `dsi run`: a subscriber that resets its connection must not kill us.
        CDSIShims_ignore_sigpipe()
        context = try TLSContext.server(certificate: options.certificate, key: options.key)
        loop = .allocate(capacity: 1)
        server = .allocate(capacity: 1)
        readBuffer = .allocate(byteCount: Self.bufferSize, alignment: 64)
        scratch = .allocate(byteCount: Self.bufferSize, alignment: 64)
        frames = .allocate(byteCount: options.batch * PublishProtocol.tickFrameSize, alignment: 64)
        try check(uv_loop_init(loop), "uv_loop_init")
        loop.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        uv_tcp_init(loop, server)
        server.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        var address = sockaddr_in()
        uv_ip4_addr(options.listen.address.description, Int32(options.listen.port), &address)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_bind(server, $0, 0) }
        }
        do {
            try check(bound, "binding \(options.listen)")
            try check(uv_listen(serverStream, 128, onConnection), "listening on \(options.listen)")
        } catch {
            uv_close(UnsafeMutableRawPointer(server).assumingMemoryBound(to: uv_handle_t.self), nil)
            uv_run(loop, UV_RUN_DEFAULT)
            uv_loop_close(loop)
            closed = true  // deinit runs after this throw (every property is set) and must not close them again
            throw error
        }
        var name = sockaddr_in()
        var length = Int32(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &name) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = uv_tcp_getsockname(server, $0, &length) }
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

    func check(_ status: Int32, _ what: String) throws {
        if status < 0 { throw PublisherError(what: what, reason: String(cString: uv_strerror(status)), code: status) }
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
        if sessions.count > Int(subscribers.load) { closeStalledHandshakes() }
        return ready
    }

    /// Closes connections whose handshake outlived `handshakeTimeoutNanos`.
    func closeStalledHandshakes() {
        let now = Clock.monotonicNanos()
        guard now &- lastDeadlineCheck >= 100_000_000 else { return }
        lastDeadlineCheck = now
        for session in Array(sessions.values)
        where session.state == .handshaking && now &- session.acceptedAt > options.handshakeTimeoutNanos {
            handshakeTimeouts.add()
            logger.warning("closing \(session.peer): no TLS handshake within \(options.handshakeTimeoutNanos / 1_000_000) ms")
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
                    close(session, reason: "write failed: \(String(cString: uv_strerror(w)))")
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
            logger.warning("slow consumer \(session.peer): \(session.queuedBytes + count) bytes behind, disconnecting")
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
        if status < 0 {
            session.queuedBytes -= count
            block.deallocate()
            close(session, reason: "write failed: \(String(cString: uv_strerror(status)))")
        }
    }

    // MARK: Connections

    func accept() {
        let tcp = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
        uv_tcp_init(loop, tcp)
        let stream = UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_stream_t.self)
        guard uv_accept(serverStream, stream) == 0, let session = TLSSession(context: context, tcp: tcp) else {
            uv_close(UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_handle_t.self)) { $0?.deallocate() }
            return
        }
        uv_tcp_nodelay(tcp, 1)
        session.peer = Self.peerName(tcp)
        tcp.pointee.data = Unmanaged.passUnretained(session).toOpaque()
        sessions[ObjectIdentifier(session)] = session
        sessionsAccepted.add()
        uv_read_start(stream, onAlloc, onRead)
    }

    static func peerName(_ tcp: UnsafeMutablePointer<uv_tcp_t>) -> String {
        var name = sockaddr_in()
        var length = Int32(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &name) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_getpeername(tcp, $0, &length) }
        }
        guard ok == 0 else { return "?" }
        return "\(IPv4Address(UInt32(bigEndian: name.sin_addr.s_addr))):\(UInt16(bigEndian: name.sin_port))"
    }

    /// Ciphertext arrived: feed OpenSSL, advance the handshake, then discard any application data (subscribers only
    /// listen) and notice a close_notify.
    func received(_ session: TLSSession, bytes: UnsafeRawPointer, count: Int) {
        var offset = 0
        while offset < count {
            let n = BIO_write(session.networkIn, bytes + offset, Int32(count - offset))
            if n <= 0 { break }
            offset += Int(n)
        }
        if session.state == .handshaking {
            let r = SSL_do_handshake(session.ssl)
            if r == 1 {
                session.state = .established
                updateSubscriberGauge()
                logger.info("subscriber \(session.peer) connected (\(String(cString: SSL_get_version(session.ssl))))")
                send(PublishProtocol.helloFrame(nextStreamSeq: lastStreamSeq + 1), to: session)
            } else {
                let error = SSL_get_error(session.ssl, r)
                if error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE {
                    handshakeFailures.add()
                    let reason = TLSError.openssl("TLS handshake with \(session.peer)").description
                    logger.warning("\(reason)")
                    flush(session)  // the alert, so the client learns why
                    close(session, reason: nil)
                    return
                }
                flush(session)
                return
            }
        }
        while true {
            let n = SSL_read(session.ssl, scratch, Int32(Self.bufferSize))
            if n > 0 { continue }
            if SSL_get_error(session.ssl, n) == SSL_ERROR_ZERO_RETURN {
                close(session, reason: nil)
                return
            }
            break
        }
        flush(session)
    }

    /// Closes a session (optionally telling it why first); its memory goes when libuv's close callback runs.
    func close(_ session: TLSSession, reason: String?) {
        guard session.state != .closing else { return }
        if let reason, session.state == .established, session.queuedBytes == 0 {
            // Only with nothing queued: bytes written past a queue would land in the middle of the TLS stream (a slow
            // consumer, whose queue is full, learns it from the closed connection).
            logger.info("closing subscriber \(session.peer): \(reason)")
            let frame = PublishProtocol.goodbyeFrame(reason: reason)
            frame.withUnsafeBytes { _ = SSL_write(session.ssl, $0.baseAddress, Int32($0.count)) }
            let n = BIO_read(session.networkOut, scratch, Int32(Self.bufferSize))
            if n > 0 {
                var buf = uv_buf_init(scratch.assumingMemoryBound(to: CChar.self), UInt32(n))
                _ = uv_try_write(session.stream, &buf, 1)
            }
        }
        session.state = .closing
        updateSubscriberGauge()
        uv_close(UnsafeMutableRawPointer(session.tcp).assumingMemoryBound(to: uv_handle_t.self), onSessionClosed)
    }

    func updateSubscriberGauge() {
        subscribers.set(UInt64(sessions.values.filter { $0.state == .established }.count))
    }

    func sessionClosed(_ tcp: UnsafeMutablePointer<uv_tcp_t>) {
        let session = Unmanaged<TLSSession>.fromOpaque(tcp.pointee.data).takeUnretainedValue()
        sessions[ObjectIdentifier(session)] = nil
        tcp.deallocate()
    }

    // MARK: Shutdown

    /// Drains `ring`, tells every subscriber the stream ended (end frame, then TLS close_notify), waits up to
    /// `timeoutNanos` for their queues to empty, then closes everything.
    public func finish(ring: SPSCRing, timeoutNanos: UInt64 = 2_000_000_000) {
        var open = OpenGate()
        finish(ring: ring, gate: &open, timeoutNanos: timeoutNanos)
    }

    /// `finish(ring:)`, with the gate the polls used applied to what is drained.
    public func finish<Gate: TickGate>(ring: SPSCRing, gate: inout Gate, timeoutNanos: UInt64 = 2_000_000_000) {
        guard !closed else { return }
        while ring.readySlots(limit: 1) > 0 { _ = poll(ring: ring, gate: &gate) }
        for session in sessions.values where session.state == .established {
            send(PublishProtocol.endFrame(lastStreamSeq: lastStreamSeq), to: session)
            SSL_shutdown(session.ssl)
            flush(session)
        }
        let deadline = Clock.monotonicNanos() + timeoutNanos
        while sessions.values.contains(where: { $0.queuedBytes > 0 }) && Clock.monotonicNanos() < deadline {
            uv_run(loop, UV_RUN_NOWAIT)
            Clock.sleep(nanos: 200_000)
        }
        for session in Array(sessions.values) { close(session, reason: nil) }
        uv_close(UnsafeMutableRawPointer(server).assumingMemoryBound(to: uv_handle_t.self), nil)
        uv_run(loop, UV_RUN_DEFAULT)  // runs the close callbacks; nothing else is left on the loop
        uv_loop_close(loop)
        closed = true
    }
}

/// The publisher could not start (or a libuv call failed): what it was doing and libuv's reason.
public struct PublisherError: Error, CustomStringConvertible {
    public let what: String
    public let reason: String
    public let code: Int32
    public var description: String { "\(what): \(reason)" }
}

// libuv callbacks: C function pointers, so they find their Swift objects through the handles' `data` fields.

private func onConnection(_ server: UnsafeMutablePointer<uv_stream_t>?, _ status: Int32) {
    guard let server, status == 0 else { return }
    Unmanaged<TLSPublisher>.fromOpaque(server.pointee.data).takeUnretainedValue().accept()
}

private func onAlloc(_ handle: UnsafeMutablePointer<uv_handle_t>?, _ suggested: Int, _ buf: UnsafeMutablePointer<uv_buf_t>?) {
    guard let handle, let buf else { return }
    let loopData = handle.pointee.loop.pointee.data
    let publisher = Unmanaged<TLSPublisher>.fromOpaque(loopData!).takeUnretainedValue()
    buf.pointee = uv_buf_init(publisher.readBuffer.assumingMemoryBound(to: CChar.self), UInt32(TLSPublisher.bufferSize))
}

private func onRead(_ stream: UnsafeMutablePointer<uv_stream_t>?, _ nread: Int, _ buf: UnsafePointer<uv_buf_t>?) {
    guard let stream else { return }
    let session = Unmanaged<TLSSession>.fromOpaque(stream.pointee.data).takeUnretainedValue()
    let publisher = Unmanaged<TLSPublisher>.fromOpaque(stream.pointee.loop.pointee.data!).takeUnretainedValue()
    if nread < 0 {
        publisher.close(session, reason: nil)  // EOF or a reset: the subscriber left
    } else if nread > 0, let base = buf?.pointee.base {
        publisher.received(session, bytes: base, count: nread)
    }
}

private func onWriteDone(_ request: UnsafeMutablePointer<uv_write_t>?, _ status: Int32) {
    guard let request else { return }
    let session = Unmanaged<TLSSession>.fromOpaque(request.pointee.data).takeUnretainedValue()
    let block = UnsafeMutableRawPointer(request) - WriteBlock.requestOffset
    session.queuedBytes -= block.load(as: Int.self)
    block.deallocate()
}

private func onSessionClosed(_ handle: UnsafeMutablePointer<uv_handle_t>?) {
    guard let handle else { return }
    let tcp = UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_tcp_t.self)
    let publisher = Unmanaged<TLSPublisher>.fromOpaque(handle.pointee.loop.pointee.data!).takeUnretainedValue()
    publisher.sessionClosed(tcp)
}

/// A queued write's allocation: its byte count, the libuv request, then the bytes.
enum WriteBlock {
    static let requestOffset = 16
}
