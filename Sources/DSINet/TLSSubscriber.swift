import CDSIShims
import COpenSSL
import DSICore
import Glibc

/// A downstream client of the publisher: connects over TLS 1.3, verifies the server (unless told not to), and reads
/// ticks until a count, the end of the stream, or a stop request.
public final class TLSSubscriber: @unchecked Sendable {
    // @unchecked Sendable: may be handed to another thread, but only one thread uses it at a time.
    public struct Options: Sendable {
        public var host: String
        public var port: UInt16
        /// Skip certificate verification (a self-signed publisher you have not copied the certificate of).
        public var insecure = false
        /// Trust this CA (or self-signed certificate) file instead of the system's.
        public var caFile: String? = nil
        /// Give up when nothing arrives for this long (ns); nil waits for ever.
        public var idleTimeoutNanos: UInt64? = nil

        public init(host: String, port: UInt16) {
            self.host = host
            self.port = port
        }
    }

    /// Why reading stopped.
    public enum End: Equatable, Sendable {
        case count
        case endOfStream(lastStreamSeq: UInt64)
        case goodbye(String)
        case closed
        case stopped
        case idleTimeout
    }

    public let options: Options
    public private(set) var protocolVersion: UInt16 = 0
    /// The TLS version the connection uses, as OpenSSL names it ("TLSv1.3").
    public private(set) var tlsVersion = ""
    public private(set) var ticksReceived: UInt64 = 0
    /// Stream sequence numbers that were skipped (should stay 0: the publisher's stream is gap-free).
    public private(set) var streamGaps: UInt64 = 0
    private var lastStreamSeq: UInt64 = 0
    private let context: TLSContext
    private let fd: Int32
    private let ssl: OpaquePointer
    private var buffer = [UInt8](repeating: 0, count: 256 << 10)
    private var filled = 0

    /// Connects and completes the TLS handshake.
    public init(_ options: Options) throws {
        self.options = options
        CDSIShims_ignore_sigpipe()  // a publisher that goes away must give EPIPE on close_notify, not a dead process
        context = try TLSContext.client(caFile: options.caFile, insecure: options.insecure)
        fd = try Self.connect(host: options.host, port: options.port)
        guard let ssl = SSL_new(context.ctx) else {
            Glibc.close(fd)
            throw TLSError.openssl("creating a TLS session")
        }
        self.ssl = ssl
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
            // Every stored property is set, so deinit frees the session and closes the socket.
            throw TLSError("TLS handshake with \(options.host):\(options.port)", reason: detail)
        }
        tlsVersion = String(cString: SSL_get_version(ssl))
    }

    deinit {
        if SSL_is_init_finished(ssl) == 1 { SSL_shutdown(ssl) }
        SSL_free(ssl)
        Glibc.close(fd)
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
            // A receive timeout lets the read loop notice stop requests while the publisher is quiet.
            try Socket.setReceiveTimeout(fd, nanos: 200_000_000)
        } catch {
            Glibc.close(fd)
            throw error
        }
        return fd
    }

    /// Reads ticks and hands each to `onTick` until `limit` ticks (if given), the end of the stream, the publisher
    /// closing, `shouldStop()` returning true, or the idle timeout.
    public func run(limit: UInt64? = nil, shouldStop: () -> Bool = { false }, onTick: (Tick) -> Void) throws -> End {
        var lastData = Clock.monotonicNanos()
        while true {
            // Frames already buffered first.
            var offset = 0
            while let (frame, consumed) = try buffer.withUnsafeBytes({ raw in
                try PublishFrameReader.next(in: UnsafeRawBufferPointer(rebasing: raw[offset..<filled]))
            }) {
                offset += consumed
                switch frame {
                case .tick(let tick):
                    if lastStreamSeq != 0 && tick.streamSeq != lastStreamSeq + 1 { streamGaps += 1 }
                    lastStreamSeq = tick.streamSeq
                    ticksReceived += 1
                    onTick(tick)
                    if let limit, ticksReceived >= limit {
                        compact(offset)
                        return .count
                    }
                case .hello(let version, let tickSize, _):
                    protocolVersion = version
                    guard version == PublishProtocol.version else {
                        throw TLSError("reading the tick stream", reason: "unsupported protocol version \(version)")
                    }
                    guard Int(tickSize) == Tick.wireSize else {
                        throw TLSError(
                            "reading the tick stream",
                            reason: "the publisher sends ticks of \(tickSize) bytes; this subscriber reads \(Tick.wireSize)")
                    }
                case .end(let last):
                    compact(offset)
                    return .endOfStream(lastStreamSeq: last)
                case .goodbye(let reason):
                    compact(offset)
                    return .goodbye(reason)
                case .unknown:
                    break  // a frame type from a newer publisher: skipped by its length
                }
            }
            compact(offset)
            if shouldStop() { return .stopped }
            if filled == buffer.count { throw TLSError("reading the tick stream", reason: "frame larger than the buffer") }
            let n = buffer.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress! + filled, Int32($0.count - filled)) }
            if n > 0 {
                filled += Int(n)
                lastData = Clock.monotonicNanos()
                continue
            }
            let error = SSL_get_error(ssl, n)
            if error == SSL_ERROR_ZERO_RETURN { return .closed }
            if error == SSL_ERROR_WANT_READ || (error == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EINTR)) {
                ERR_clear_error()
                if let limit = options.idleTimeoutNanos, Clock.monotonicNanos() - lastData > limit { return .idleTimeout }
                continue
            }
            if error == SSL_ERROR_SYSCALL && n == 0 { return .closed }
            throw TLSError.openssl("reading from \(options.host):\(options.port)")
        }
    }

    private func compact(_ consumed: Int) {
        guard consumed > 0 else { return }
        if consumed < filled {
            buffer.withUnsafeMutableBytes { raw in
                raw.baseAddress!.copyMemory(from: raw.baseAddress! + consumed, byteCount: filled - consumed)
            }
        }
        filled -= consumed
    }
}
