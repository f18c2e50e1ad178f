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
        public private(set) var session: [UInt8] = []
        var messages: [UInt64: [UInt8]] = [:]
        public init() {}
        public var count: Int { messages.count }
        /// Keeps the first copy of each sequence number.
        public func add(session: [UInt8], seq: UInt64, message: [UInt8]) {
            if self.session.isEmpty { self.session = session }
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
    /// Requests that were not 20 bytes or named another session.
    public let refused = Counter()
    /// Requests beyond `maxRequestsPerSecond`, left unanswered (the client asks again after its timeout).
    public let rateLimited = Counter()
    /// Requests answered per second at most, with bursts of a tenth of that: a real server protects itself from a
    /// client that floods it, and a client must pace its requests to stay under the limit.
    public var maxRequestsPerSecond = 20_000.0

    public init(listen: IPv4Endpoint, store: Store) throws {
        self.store = store
        let fd = try syscall("socket") { socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0) }
        self.fd = fd
        do {
            try setOption(fd, SOL_SOCKET, SO_REUSEADDR, Int32(1), "SO_REUSEADDR")
            var timeout = timeval(tv_sec: 0, tv_usec: 100_000)  // lets `serve` notice its stop condition
            try syscall("setsockopt(SO_RCVTIMEO)") { setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size)) }
            var address = sockaddr_in(listen)
            _ = try withUnsafePointer(to: &address) { p in
                try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                    try syscall("bind(\(listen))") { bind(fd, sa, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
            }
            var bound = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
            self.port = UInt16(bigEndian: bound.sin_port)
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    /// Answers requests until `shouldStop()` returns true (checked at least every 100 ms).
    public func serve(shouldStop: () -> Bool) {
        var buffer = [UInt8](repeating: 0, count: 2048)
        var tokens = maxRequestsPerSecond / 10
        var refilledAt = Clock.monotonicNanos()
        while !shouldStop() {
            var from = sockaddr_in()
            var fromLength = socklen_t(MemoryLayout<sockaddr_in>.size)
            let n = buffer.withUnsafeMutableBytes { raw in
                withUnsafeMutablePointer(to: &from) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, raw.baseAddress, raw.count, 0, $0, &fromLength) }
                }
            }
            guard n > 0 else { continue }  // timeout or EINTR: look at the stop condition again
            guard n == 20, Array(buffer[0..<10]) == store.session else {
                refused.add()
                continue
            }
            let now = Clock.monotonicNanos()
            tokens = min(maxRequestsPerSecond / 10, tokens + Double(now - refilledAt) * maxRequestsPerSecond / 1e9)
            refilledAt = now
            guard tokens >= 1 else {
                rateLimited.add()
                continue
            }
            tokens -= 1
            requests.add()
            let first = buffer.withUnsafeBytes { $0.baseAddress!.bigEndianU64(at: 10) }
            let count = buffer.withUnsafeBytes { $0.baseAddress!.bigEndianU16(at: 18) }
            guard let reply = self.reply(first: first, count: count) else { continue }
            _ = reply.withUnsafeBytes { raw in
                withUnsafePointer(to: &from) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, raw.baseAddress, raw.count, 0, $0, fromLength) }
                }
            }
        }
    }

    /// A downstream packet with the messages from `first`, as many of `count` as are held and fit; nil when `first`
    /// itself is not held.
    func reply(first: UInt64, count: UInt16) -> [UInt8]? {
        var blocks: [UInt8] = []
        var n: UInt16 = 0
        var seq = first
        while n < count, let message = store.message(seq), 20 + blocks.count + 2 + message.count <= maxPayload {
            blocks.append(UInt8(message.count >> 8)); blocks.append(UInt8(message.count & 0xFF))
            blocks.append(contentsOf: message)
            n += 1
            seq += 1
        }
        guard n > 0 else { return nil }
        messagesSent.add(UInt64(n))
        var out = store.session
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: first >> UInt64(shift))) }
        out.append(UInt8(n >> 8)); out.append(UInt8(n & 0xFF))
        return out + blocks
    }
}
