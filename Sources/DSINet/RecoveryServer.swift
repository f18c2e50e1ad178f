import DSICore
import Glibc

/// A MoldUDP64 re-request server: answers 20-byte requests (session, first sequence, count) over unicast UDP with
/// ordinary downstream packets holding as many of the requested messages as fit in one datagram, so a client asks
/// again for the rest. `dsi replay --recovery-port` runs one over its capture.
public final class RecoveryServer: @unchecked Sendable {
    // @unchecked Sendable: `store` is filled before `serve` starts and only read afterwards; counters are atomics.

    /// Messages by sequence number.
    public final class Store: @unchecked Sendable {
        // @unchecked Sendable: written before serving starts, read-only after.
        public private(set) var session: SessionKey? = nil
        var messages: [UInt64: [UInt8]] = [:]
        public init() {}
        public var count: Int { messages.count }
        /// Keeps the first copy of each sequence number of the first session added.
        public func add(session: SessionKey, seq: UInt64, message: [UInt8]) {
            if self.session == nil { self.session = session }
            guard session == self.session else { return }
            if messages[seq] == nil { messages[seq] = message }
        }
        public func message(_ seq: UInt64) -> [UInt8]? { messages[seq] }
    }

    public let store: Store
    public let fd: Int32
    public let port: UInt16
    /// Largest reply payload: under a 1500-byte MTU, like a real server.
    public var maxPayload = 1400
    public let requests = Counter()
    public let messagesSent = Counter()
    /// Requests that were not well-formed MoldUDP64 requests or named another session.
    public let refused = Counter()
    /// Requests beyond `maxRequestsPerSecond`, left unanswered (the client asks again after its timeout).
    public let rateLimited = Counter()
    /// Replies the socket would not take (a full buffer, an unreachable client): the client asks again.
    public let sendFailures = Counter()
    /// Requests answered per second at most, with bursts of a tenth of that: a real server protects itself from a
    /// client that floods it, and a client must pace its requests to stay under the limit.
    public var maxRequestsPerSecond = 20_000.0

    public init(listen: IPv4Endpoint, store: Store) throws {
        self.store = store
        let fd = try Socket.open(SOCK_DGRAM)
        self.fd = fd
        do {
            try Socket.setOption(fd, SOL_SOCKET, SO_REUSEADDR, Int32(1), "SO_REUSEADDR")
            try Socket.setReceiveTimeout(fd, nanos: 100_000_000)  // lets `serve` notice its stop condition
            try Socket.bind(fd, listen)
            port = try Socket.localEndpoint(fd).port
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    /// Answers requests until `shouldStop()` returns true (checked at least every 100 ms).
    public func serve(shouldStop: () -> Bool) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 8)
        defer { buffer.deallocate() }
        var pacing = TokenBucket(rate: maxRequestsPerSecond, burst: maxRequestsPerSecond / 10)
        while !shouldStop() {
            // A timeout or an error (an ICMP report of an earlier reply) only sends us back to the stop condition.
            guard let (n, from) = (try? Socket.receive(fd, into: buffer)) ?? nil else { continue }
            guard let request = MoldUDP64Request(UnsafeRawBufferPointer(rebasing: buffer[0..<n])),
                request.session == store.session
            else {
                refused.add()
                continue
            }
            pacing.refill(now: Clock.monotonicNanos())
            guard pacing.take() else {
                rateLimited.add()
                continue
            }
            requests.add()
            guard let reply = self.reply(to: request) else { continue }
            let sent = reply.withUnsafeBytes { try? Socket.send(fd, $0, to: from) }
            if sent == nil { sendFailures.add() }
        }
    }

    /// A downstream packet with the messages from the request's first, as many of its count as are held and fit;
    /// nil when the first is not held.
    func reply(to request: MoldUDP64Request) -> [UInt8]? {
        var messages: [[UInt8]] = []
        var size = MoldUDP64Packet.headerSize
        var seq = request.first
        while messages.count < Int(request.count), let message = store.message(seq), size + 2 + message.count <= maxPayload {
            messages.append(message)
            size += 2 + message.count
            seq += 1
        }
        guard !messages.isEmpty else { return nil }
        messagesSent.add(UInt64(messages.count))
        return MoldUDP64Builder(session: request.session).packet(first: request.first, messages: messages)
    }
}
