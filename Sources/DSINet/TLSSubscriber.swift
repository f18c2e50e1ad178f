import CDSIShims
import COpenSSL
import DSICore
import Glibc

/// One connection to a publisher, protocol v2 (docs/publish-protocol.md), read synchronously: connects over TLS 1.3,
/// verifies the server (unless told not to), presents a client certificate when given one, logs in, and reads
/// frames. `DSIClient` builds reconnection and resumption on it; `run` is the simple loop of the demo and tests.
public final class TLSSubscriber: @unchecked Sendable {
    // @unchecked Sendable: may be handed to another thread, but only one thread uses it at a time.
    public struct Options: Sendable {
        public var host: String
        public var port: UInt16
        /// Skip certificate verification (a self-signed publisher you have not copied the certificate of).
        public var insecure = false
        /// Trust this CA (or self-signed certificate) file instead of the system's.
        public var caFile: String? = nil
        /// A client certificate and its key (PEM), for a publisher that asks for one (mutual TLS).
        public var certificate: String? = nil
        public var key: String? = nil
        /// Give up when nothing arrives for this long (ns); nil waits for ever.
        public var idleTimeoutNanos: UInt64? = nil
        /// The name the login gives (the publisher's log and counters use it).
        public var name = "dsi-subscriber"
        public var encoding = PublishProtocol.Encoding.binary

        public init(host: String, port: UInt16) {
            self.host = host
            self.port = port
        }
    }

    /// Why reading stopped.
    public enum End: Equatable, Sendable {
        case count
        case endOfStream(lastStreamSeq: UInt64)
        case goodbye(code: UInt16, reason: String)
        case closed
        case stopped
        case idleTimeout
    }

    public let options: Options
    /// The publisher's hello (after `init`).
    public private(set) var hello: ServerFrame.Hello
    /// The TLS version the connection uses, as OpenSSL names it ("TLSv1.3").
    public private(set) var tlsVersion = ""
    public private(set) var ticksReceived: UInt64 = 0
    /// Image ticks among them.
    public private(set) var imagesReceived: UInt64 = 0
    /// Updates the topic sequences show were never received (should stay 0).
    public var ticksMissed: UInt64 { tracker.missed }
    /// Error frames received (refused requests), with their reasons.
    public private(set) var errors: [(code: UInt16, request: UInt32, reason: String)] = []
    private var tracker = TopicTracker()
    private var nextRequest: UInt32 = 1
    private let context: TLSContext
    private let fd: Int32
    private let ssl: OpaquePointer
    private var buffer = [UInt8](repeating: 0, count: 256 << 10)
    private var filled = 0
    /// Bytes of `buffer` before this are read; the rest up to `filled` wait for their frame to complete.
    private var start = 0
    private var lastWrite = Clock.monotonicNanos()
    /// Frames read while waiting for a subscription's acknowledgement, for `nextFrame` to return first.
    private var held: [ServerFrame] = []

    /// Connects, completes the TLS handshake, logs in and reads the hello.
    public init(_ options: Options) throws {
        self.options = options
        CDSIShims_ignore_sigpipe()  // a publisher that goes away must give EPIPE on close_notify, not a dead process
        context = try TLSContext.client(
            caFile: options.caFile, insecure: options.insecure, certificate: options.certificate, key: options.key)
        fd = try Self.connect(host: options.host, port: options.port)
        guard let ssl = SSL_new(context.ctx) else {
            Glibc.close(fd)
            throw TLSError.openssl("creating a TLS session")
        }
        self.ssl = ssl
        hello = .init(
            version: 0, encoding: 0, tickSize: 0, heartbeatMillis: 0, nextStreamSeq: 0, firstRetained: 0, day: 0,
            maxSymbols: 0)
        // From here every stored property is set: a throw frees the session and closes the socket in deinit.
        try OpenSSL.check("attaching the socket to TLS", SSL_set_fd(ssl, fd))
        let isAddress = IPv4Address(options.host) != nil
        if !isAddress {
            try OpenSSL.check("setting the server name \(options.host)", Int32(CDSIShims_SSL_set_sni(ssl, options.host)))
        }
        if !options.insecure {
            // Check that the certificate names the host we dialled, not just that some CA signed it.
            if isAddress {
                try OpenSSL.check(
                    "expecting the address \(options.host)", X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), options.host))
            } else {
                try OpenSSL.check("expecting the host name \(options.host)", SSL_set1_host(ssl, options.host))
            }
        }
        while true {
            let r = SSL_connect(ssl)
            if r == 1 { break }
            let error = SSL_get_error(ssl, r)
            if error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE { continue }
            let verify = SSL_get_verify_result(ssl)
            let detail =
                verify != X509_V_OK
                ? "certificate verification failed: \(String(cString: X509_verify_cert_error_string(verify)))"
                : TLSError.openssl("").reason
            throw TLSError("TLS handshake with \(options.host):\(options.port)", reason: detail)
        }
        tlsVersion = String(cString: SSL_get_version(ssl))
        try send(.login(version: PublishProtocol.version, encoding: options.encoding.rawValue, name: options.name))
        // The first frame is the hello, or a goodbye saying why not (a refused certificate, version or encoding).
        let deadline = Clock.monotonicNanos() + 10_000_000_000
        while true {
            switch try nextFrame() {
            case .hello(let h)?:
                hello = h
                return
            case .goodbye(let code, let reason)?:
                throw LoginRefused(code: code, reason: reason)
            case nil where Clock.monotonicNanos() > deadline:
                throw TLSError("logging in to \(options.host):\(options.port)", reason: "no hello within 10 s")
            case nil:
                continue
            case .some(let other):
                throw TLSError("logging in to \(options.host):\(options.port)", reason: "expected a hello, got \(other)")
            }
        }
    }

    deinit {
        if SSL_is_init_finished(ssl) == 1 { SSL_shutdown(ssl) }
        SSL_free(ssl)
        Glibc.close(fd)
    }

    static func describe(_ code: UInt16, _ reason: String) -> String {
        "\(PublishProtocol.Code(rawValue: code)?.name ?? "code \(code)"): \(reason)"
    }

    static func connect(host: String, port: UInt16) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>? = nil
        let status = getaddrinfo(host, String(port), &hints, &result)
        guard status == 0, let first = result else {
            throw TLSError("resolving \(host)", reason: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(result) }
        // AF_INET was asked for: the address is a sockaddr_in.
        let endpoint = first.pointee.ai_addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { IPv4Endpoint($0.pointee) }
        let fd = try Socket.open(SOCK_STREAM)
        do {
            try Socket.connect(fd, endpoint)
            try Socket.setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, Int32(1), "TCP_NODELAY")
            // A receive timeout lets the read loop send heartbeats and notice stop requests while the publisher is
            // quiet.
            try Socket.setReceiveTimeout(fd, nanos: 200_000_000)
        } catch {
            Glibc.close(fd)
            throw error
        }
        return fd
    }

    /// Sends a frame to the publisher.
    public func send(_ frame: ClientFrame) throws {
        let bytes = frame.bytes
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { SSL_write(ssl, $0.baseAddress! + offset, Int32(bytes.count - offset)) }
            if n > 0 {
                offset += Int(n)
                continue
            }
            let error = SSL_get_error(ssl, n)
            if error == SSL_ERROR_WANT_WRITE || error == SSL_ERROR_WANT_READ { continue }
            throw TLSError.openssl("writing to \(options.host):\(options.port)")
        }
        lastWrite = Clock.monotonicNanos()
    }

    /// Subscribes (or, with `after`, resumes after that stream sequence) and waits for the publisher to acknowledge
    /// every request: from then on, every tick of the selection published after the returned frame's first stream
    /// sequence reaches `nextFrame`. Frames that arrive meanwhile wait there too.
    /// - Throws: the publisher's refusal (an error frame), in words.
    @discardableResult
    public func subscribe(_ selection: TickSelection, resumingAfter after: UInt64? = nil, timeoutNanos: UInt64 = 10_000_000_000)
        throws -> ServerFrame.Subscribed
    {
        var requests: [(TickSelection.Kinds, [UInt64]?)] = []
        if !selection.everySymbol.isEmpty { requests.append((selection.everySymbol, nil)) }
        // One request per group of symbols with the same kinds, each within a frame's room.
        var groups: [UInt8: [UInt64]] = [:]
        for (symbol, kinds) in selection.symbols { groups[kinds.rawValue, default: []].append(symbol) }
        for (kinds, symbols) in groups.sorted(by: { $0.key < $1.key }) {
            let sorted = symbols.sorted()
            for start in stride(from: 0, to: sorted.count, by: ClientFrame.maxSymbolsPerFrame) {
                let end = min(sorted.count, start + ClientFrame.maxSymbolsPerFrame)
                requests.append((TickSelection.Kinds(rawValue: kinds), Array(sorted[start..<end])))
            }
        }
        // Resuming mid-stream with no history here: each topic's first update is where this subscriber starts.
        if after != nil && ticksReceived == 0 { tracker.startsMidStream = true }
        var waiting = Set<UInt32>()
        for (i, (kinds, symbols)) in requests.enumerated() {
            let id = nextRequest
            nextRequest += 1
            waiting.insert(id)
            if i == 0, let after {
                try send(.resume(request: id, after: after, kinds: kinds, symbols: symbols))
            } else {
                try send(.subscribe(request: id, kinds: kinds, symbols: symbols))
            }
        }
        var last: ServerFrame.Subscribed? = nil
        let deadline = Clock.monotonicNanos() + timeoutNanos
        while !waiting.isEmpty {
            guard Clock.monotonicNanos() < deadline else {
                throw TLSError(
                    "subscribing at \(options.host):\(options.port)", reason: "no answer within \(timeoutNanos / 1_000_000) ms")
            }
            guard let frame = try readFrame() else { continue }
            switch frame {
            case .subscribed(let ack) where waiting.contains(ack.request):
                waiting.remove(ack.request)
                last = ack
                held.append(frame)
            case .error(let code, let request, let reason) where waiting.contains(request):
                throw TLSError("subscribing at \(options.host):\(options.port)", reason: Self.describe(code, reason))
            case .goodbye(let code, let reason):
                throw TLSError("subscribing at \(options.host):\(options.port)", reason: Self.describe(code, reason))
            default:
                held.append(frame)
            }
        }
        return last!  // at least one request was sent, so at least one answer came
    }

    /// The next frame, or nil when none arrived within the socket's receive timeout (200 ms). Sends a heartbeat
    /// when one is due. Ticks pass through the topic check first.
    public func nextFrame() throws -> ServerFrame? {
        if !held.isEmpty { return held.removeFirst() }
        return try readFrame()
    }

    /// The next frame from the connection (not from `held`).
    private func readFrame() throws -> ServerFrame? {
        while true {
            if let frame = try parseBuffered() { return frame }
            guard try receive() else { return nil }
        }
    }

    /// Like `nextFrame`, for the hot loop of a reader: every tick among the bytes received goes to `onTick` as it is
    /// parsed, in place, and the first frame that is not a tick is returned; nil once the bytes received hold no
    /// more whole frame (after at most one read from the socket, so at most the receive timeout). A tick is never
    /// copied into a `ServerFrame` on this path: with many subscribers those copies were the largest cost of reading.
    /// At most `limit` ticks are handed over; the rest stay for the next call.
    public func nextFrame(limit: UInt64 = .max, onTick: (Tick) throws -> Void) throws -> ServerFrame? {
        var handed: UInt64 = 0
        while handed < limit, let frame = held.first {
            held.removeFirst()
            guard case .tick(let tick) = frame else { return frame }
            handed += 1
            try onTick(tick)
        }
        var received = false
        while handed < limit {
            while handed < limit, let tick = bufferedBinaryTick() {
                count(tick)
                handed += 1
                try onTick(tick)
            }
            if handed == limit { break }
            if let frame = try parseBuffered() {
                guard case .tick(let tick) = frame else { return frame }
                handed += 1
                try onTick(tick)
                continue
            }
            if received { return nil }
            guard try receive() else { return nil }
            received = true
        }
        return nil
    }

    /// Reads what the socket has into the buffer (sending a heartbeat first when one is due); false when nothing
    /// arrived within the receive timeout.
    private func receive() throws -> Bool {
        if Clock.monotonicNanos() - lastWrite > 1_000_000_000 { try send(.heartbeat) }
        compact()
        if filled == buffer.count { throw TLSError("reading the tick stream", reason: "frame larger than the buffer") }
        while true {
            let n = buffer.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress! + filled, Int32($0.count - filled)) }
            if n > 0 {
                filled += Int(n)
                return true
            }
            let error = SSL_get_error(ssl, n)
            if error == SSL_ERROR_ZERO_RETURN { throw Closed() }
            if error == SSL_ERROR_WANT_READ || (error == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EINTR)) {
                ERR_clear_error()
                return false
            }
            if error == SSL_ERROR_SYSCALL && n == 0 { throw Closed() }
            throw TLSError.openssl("reading from \(options.host):\(options.port)")
        }
    }

    /// The next complete frame among the bytes received, checked and counted.
    private func parseBuffered() throws -> ServerFrame? {
        if let tick = bufferedBinaryTick() {
            count(tick)
            return .tick(tick)
        }
        guard
            let (frame, consumed) = try buffer.withUnsafeBytes({ raw in
                try PublishFrameReader.next(
                    in: UnsafeRawBufferPointer(rebasing: raw[start..<filled]), encoding: options.encoding)
            })
        else { return nil }
        start += consumed
        switch frame {
        case .tick(let tick):
            count(tick)
        case .error(let code, let request, let reason):
            errors.append((code, request, reason))
        default:
            break
        }
        return frame
    }

    /// The common frame, read in place: a whole binary tick frame at the front of the unread bytes is decoded
    /// straight from the buffer, without going through `PublishFrameReader`'s general path and its copies of
    /// `ServerFrame` (the larger part of a subscriber's cost in the fan-out benchmark). Anything else (another frame,
    /// a wrong length, an unknown kind, part of a frame) is left to the general path, which checks and explains it.
    @inline(__always)
    private func bufferedBinaryTick() -> Tick? {
        let frameSize = PublishProtocol.tickFrameSize
        guard options.encoding == .binary, filled - start >= frameSize else { return nil }
        return buffer.withUnsafeBytes { raw -> Tick? in
            let p = raw.baseAddress! + start
            guard Int(p.bigEndianU16(at: 0)) == frameSize - 2,
                p.load(fromByteOffset: 2, as: UInt8.self) == PublishProtocol.ServerFrameType.tick.rawValue,
                let tick = Tick(wire: p + PublishProtocol.headerSize)
            else { return nil }
            start += frameSize
            return tick
        }
    }

    @inline(__always)
    private func count(_ tick: Tick) {
        ticksReceived += 1
        if tick.flags & Tick.Flags.image != 0 { imagesReceived += 1 }
        tracker.observe(tick)
    }

    /// The publisher answered the login with a goodbye: a version, an encoding or a certificate it does not take.
    public struct LoginRefused: Error, CustomStringConvertible {
        public let code: UInt16
        public let reason: String
        public var description: String { "the publisher refused the login: \(TLSSubscriber.describe(code, reason))" }
    }

    /// The publisher closed the connection (after its close_notify, or without one).
    public struct Closed: Error {}

    /// Hands each tick (after `subscribe`) to `onTick` until `limit` ticks, the end of the stream, a goodbye, the
    /// publisher closing, `shouldStop()`, or the idle timeout.
    public func run(limit: UInt64? = nil, shouldStop: () -> Bool = { false }, onTick: (Tick) -> Void) throws -> End {
        var lastData = Clock.monotonicNanos()
        var handed: UInt64 = 0
        while true {
            if shouldStop() { return .stopped }
            let before = handed
            let frame: ServerFrame?
            do {
                frame = try nextFrame(limit: limit.map { $0 - handed } ?? .max) { tick in
                    handed += 1
                    onTick(tick)
                }
            } catch is Closed {
                return .closed
            }
            if let limit, handed >= limit { return .count }
            if handed > before { lastData = Clock.monotonicNanos() }
            guard let frame else {
                if let idle = options.idleTimeoutNanos, Clock.monotonicNanos() - lastData > idle { return .idleTimeout }
                continue
            }
            lastData = Clock.monotonicNanos()
            switch frame {
            case .end(let last):
                return .endOfStream(lastStreamSeq: last)
            case .goodbye(let code, let reason):
                return .goodbye(code: code, reason: reason)
            default:
                break
            }
        }
    }

    /// Moves the unread bytes to the front of the buffer, to make room for a read.
    private func compact() {
        guard start > 0 else { return }
        if start < filled {
            buffer.withUnsafeMutableBytes { raw in
                raw.baseAddress!.copyMemory(from: raw.baseAddress! + start, byteCount: filled - start)
            }
        }
        filled -= start
        start = 0
    }
}
