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
    private let request = UnsafeMutableRawPointer.allocate(byteCount: MoldUDP64Request.size, alignment: 8)

    public init(server: IPv4Endpoint) throws {
        self.server = server
        fd = try Socket.open(SOCK_DGRAM, nonBlocking: true)
        do {
            try Socket.setOption(fd, SOL_SOCKET, SO_RCVBUF, Int32(4 << 20), "SO_RCVBUF")
            try Socket.setOption(fd, SOL_SOCKET, CDSIShims_SO_TIMESTAMPNS(), Int32(1), "SO_TIMESTAMPNS")
            try Socket.setOption(fd, SOL_SOCKET, CDSIShims_SO_RXQ_OVFL(), Int32(1), "SO_RXQ_OVFL")
            // Connected: only the server's datagrams are accepted, and send needs no address.
            try Socket.connect(fd, server)
        } catch {
            close(fd)
            throw error
        }
    }

    deinit {
        close(fd)
        request.deallocate()
    }

    /// Sends one request for `count` messages from `first` of `session`. A failure (a full socket buffer, no server
    /// listening) is counted and the processor's timeout asks again: it is never thrown into the pipeline.
    public func request(session: SessionKey, first: UInt64, count: UInt16) {
        MoldUDP64Builder.writeRequest(session: session, first: first, count: count, to: request)
        let sent = try? Socket.send(
            fd, UnsafeRawBufferPointer(start: request, count: MoldUDP64Request.size), "re-request to \(server)")
        if sent == MoldUDP64Request.size { requestsSent.add() } else { sendFailures.add() }
    }

    /// Receives replies waiting on the socket into `ring`.
    @discardableResult
    public func receive(into ring: SPSCRing) throws -> Int {
        do {
            let n = try batch.receive(
                fd: fd, into: ring, line: LineIndex.recovery, what: "recvmmsg(recovery \(server))",
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
