import DSICore
import DSINet
import Foundation
import Glibc
import Logging

/// `/metrics`, `/healthz` and `/readyz` over HTTP on `metrics.listen`, served by a housekeeping thread of its own, off
/// the pipeline's and publishers' CPUs: one connection at a time (scrapes are sequential), each given two seconds to
/// send its request and take the answer, so a client that stalls holds the endpoint no longer than that and never
/// touches the handler.
public final class MetricsServer: @unchecked Sendable {
    // @unchecked Sendable: the listening socket and routes are set in init; `stopping` is atomic; the thread owns the rest.
    public typealias Route = @Sendable () -> (status: Int, reason: String, contentType: String, body: [UInt8])

    public let port: UInt16
    private let fd: Int32
    private let routes: [String: Route]
    private let stopping = StopFlag()
    private let finished = DispatchSemaphore(value: 0)
    private let logger: Logger
    /// Requests answered, and connections refused or dropped (bad requests, timeouts), for the tests and the log.
    public let answered = Counter()
    public let refused = Counter()
    static let clientTimeoutNanos: UInt64 = 2_000_000_000

    public init(listen: IPv4Endpoint, routes: [String: Route], logger: Logger) throws {
        self.routes = routes
        self.logger = logger
        fd = try Socket.open(SOCK_STREAM)
        do {
            try Socket.setOption(fd, SOL_SOCKET, SO_REUSEADDR, Int32(1), "SO_REUSEADDR")
            try Socket.bind(fd, listen)
            try Socket.listen(fd, backlog: 16)
            // The accept loop wakes every 200 ms to notice `stop()`.
            try Socket.setReceiveTimeout(fd, nanos: 200_000_000)
            port = try Socket.localEndpoint(fd).port
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }

    public func start() {
        let thread = Thread { [self] in
            serve()
            finished.signal()
        }
        thread.name = "dsi-metrics"
        thread.start()
    }

    /// Stops accepting and waits for the thread (at most a client's timeout).
    public func stop() {
        guard !stopping.isSet else { return }
        stopping.set()
        finished.wait()
    }

    private func serve() {
        while !stopping.isSet {
            let client: Int32?
            do {
                client = try Socket.accept(fd)
            } catch {
                logger.warning("metrics endpoint: accept failed: \(error)")
                Clock.sleep(nanos: 100_000_000)
                continue
            }
            guard let client else { continue }
            answer(client)
            close(client)
        }
    }

    private func answer(_ client: Int32) {
        guard (try? Socket.setReceiveTimeout(client, nanos: Self.clientTimeoutNanos)) != nil,
            (try? Socket.setSendTimeout(client, nanos: Self.clientTimeoutNanos)) != nil
        else { return }
        let deadline = Clock.monotonicNanos() + Self.clientTimeoutNanos
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 2_048)
        while true {
            switch HTTPRequest.parse(received) {
            case .incomplete:
                guard Clock.monotonicNanos() < deadline,
                    let n = try? chunk.withUnsafeMutableBytes({ try Socket.read(client, into: $0) }), n > 0
                else {
                    refused.add()  // silent, gone, or too slow: nothing to answer
                    return
                }
                received += chunk[0..<n]
            case .refuse(let status, let reason):
                refused.add()
                _ = Socket.writeAll(
                    client,
                    HTTPRequest.response(
                        status: status, reason: reason, contentType: "text/plain", body: Array("\(reason)\n".utf8)))
                return
            case .get(let path, let head):
                guard let route = routes[path] else {
                    refused.add()
                    let known = routes.keys.sorted().joined(separator: ", ")
                    _ = Socket.writeAll(
                        client,
                        HTTPRequest.response(
                            status: 404, reason: "Not Found", contentType: "text/plain",
                            body: Array("not found: try \(known)\n".utf8),
                            head: head))
                    return
                }
                let r = route()
                answered.add()
                _ = Socket.writeAll(
                    client,
                    HTTPRequest.response(status: r.status, reason: r.reason, contentType: r.contentType, body: r.body, head: head)
                )
                return
            }
        }
    }
}
