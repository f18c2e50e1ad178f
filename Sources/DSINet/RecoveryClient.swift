import CDSIShims
import DSICore
import Glibc

/// Asks a MoldUDP64 re-request server for missing messages (20-byte requests over unicast UDP) and receives its
/// replies, which are ordinary downstream packets, into the ingest ring with line index `LineIndex.recovery`.
public final class RecoveryClient {
    public let server: IPv4Endpoint
    public let fd: Int32
    public let requestsSent = Counter()
    public let sendFailures = Counter()
    public let kernelDrops = Counter()
    public let oversized = Counter()
    public let replies = Counter()
    private let batch = ReceiveBatch()
    private let request = UnsafeMutableRawPointer.allocate(byteCount: 20, alignment: 8)

    public init(server: IPv4Endpoint) throws {
        self.server = server
        fd = try syscall("socket") { socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0) }
        do {
            try setOption(fd, SOL_SOCKET, SO_RCVBUF, Int32(4 << 20), "SO_RCVBUF")
            try setOption(fd, SOL_SOCKET, CDSIShims_SO_TIMESTAMPNS(), Int32(1), "SO_TIMESTAMPNS")
            try setOption(fd, SOL_SOCKET, CDSIShims_SO_RXQ_OVFL(), Int32(1), "SO_RXQ_OVFL")
            // Connected: only the server's datagrams are accepted, and send needs no address.
            var address = sockaddr_in(server)
            _ = try withUnsafePointer(to: &address) { p in
                try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                    try syscall("connect(\(server))") { connect(fd, sa, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
            }
        } catch {
            close(fd)
            throw error
        }
    }

    deinit {
        close(fd)
        request.deallocate()
    }

    /// Sends one request for the session whose 10 raw bytes are `sessionHigh` (first 8) and `sessionLow` (last 2).
    /// A failure is counted (the processor's timeout asks again), never thrown into the pipeline.
    public func request(sessionHigh: UInt64, sessionLow: UInt16, first: UInt64, count: UInt16) {
        request.storeBytes(of: sessionHigh, toByteOffset: 0, as: UInt64.self)
        request.storeBytes(of: sessionLow, toByteOffset: 8, as: UInt16.self)
        request.storeBigEndian(first, at: 10)
        request.storeBigEndian(count, at: 18)
        if send(fd, request, 20, Int32(MSG_DONTWAIT)) == 20 { requestsSent.add() } else { sendFailures.add() }
    }

    /// Receives replies waiting on the socket into `ring`.
    @discardableResult
    public func receive(into ring: SPSCRing) throws -> Int {
        do {
            let n = try batch.receive(fd: fd, into: ring, line: LineIndex.recovery, what: "recvmmsg(recovery \(server))",
                                      kernelDrops: kernelDrops, oversized: oversized)
            replies.add(UInt64(n))
            return n
        } catch let error as SystemError where error.errno == ECONNREFUSED {
            // The ICMP answer to an earlier request: no server listening. The request times out and is retried.
            sendFailures.add()
            return 0
        }
    }
}
