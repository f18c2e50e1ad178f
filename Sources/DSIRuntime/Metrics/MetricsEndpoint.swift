import Atomics
import DSICore
import Foundation
import Logging

/// What `/readyz` holds a handler to: every line joined and receiving (a datagram within the last `window`, which a
/// live feed's heartbeats give every second even when the market is closed), every publisher listening, no worker
/// dead. Kept by the metrics thread only.
public final class Readiness: @unchecked Sendable {
    // @unchecked Sendable: used by the metrics server's one thread.
    let handler: FeedHandler
    let windowNanos: UInt64
    private var seen: [(count: UInt64, at: UInt64?)]

    public init(handler: FeedHandler, windowNanos: UInt64 = 10_000_000_000) {
        self.handler = handler
        self.windowNanos = windowNanos
        seen = handler.receivers.map { ($0.datagrams.load, nil) }
    }

    /// Why the handler is not ready, one reason per line; empty when it is.
    public func reasons(now: UInt64 = Clock.monotonicNanos()) -> [String] {
        var reasons: [String] = []
        if let failure = handler.failure { reasons.append("a worker died: \(failure)") }
        // Lines feed by feed, as `handler.receivers` lists them; named with their feed when there are several.
        let names = handler.feeds.flatMap { feed in
            feed.config.lines.map { handler.feeds.count > 1 ? "feed \(feed.config.name) line \($0.name)" : "line \($0.name)" }
        }
        for (i, receiver) in handler.receivers.enumerated() {
            let count = receiver.datagrams.load
            if count != seen[i].count { seen[i] = (count, now) }
            let name = names[i]
            guard let at = seen[i].at else {
                reasons.append("\(name): nothing received yet")
                continue
            }
            if now &- at > windowNanos {
                reasons.append("\(name): nothing received for \((now &- at) / 1_000_000_000) s")
            }
        }
        for publisher in handler.publishers where publisher.port == 0 {
            reasons.append("a publisher is not listening")
        }
        return reasons
    }
}

extension MetricsServer {
    /// The handler's endpoint: `/metrics` (Prometheus text), `/healthz` (the process answers), `/readyz` (200 when
    /// `Readiness` finds nothing wrong, else 503 with the reasons).
    public static func start(for handler: FeedHandler, listen: IPv4Endpoint, logger: Logger) throws -> MetricsServer {
        let metrics = LiveMetrics(handler)
        let readiness = Readiness(handler: handler)
        let server = try MetricsServer(
            listen: listen,
            routes: [
                "/metrics": { (200, "OK", "text/plain; version=0.0.4; charset=utf-8", metrics.exposition()) },
                "/healthz": { (200, "OK", "text/plain", Array("ok\n".utf8)) },
                "/readyz": {
                    let reasons = readiness.reasons()
                    return reasons.isEmpty
                        ? (200, "OK", "text/plain", Array("ready\n".utf8))
                        : (503, "Service Unavailable", "text/plain", Array((reasons.joined(separator: "\n") + "\n").utf8))
                },
            ], logger: logger)
        server.start()
        logger.info("metrics on http://\(listen.address):\(server.port)/metrics (and /healthz, /readyz)")
        return server
    }
}

/// The handler's metrics as the graph stands: after a reload that added or removed publish nodes, their series
/// follow before the next exposition. Used by the metrics server's one thread.
final class LiveMetrics: @unchecked Sendable {
    // @unchecked Sendable: used by the metrics server's one thread.
    let handler: FeedHandler
    let metrics: HandlerMetrics
    private var registered: Set<String>
    private var generation: Int

    init(_ handler: FeedHandler) {
        self.handler = handler
        generation = handler.layoutGeneration.load(ordering: .acquiring)
        metrics = handler.makeMetrics()
        registered = Set(handler.publisherNames)
    }

    func exposition() -> [UInt8] {
        let now = handler.layoutGeneration.load(ordering: .acquiring)
        if now != generation {
            generation = now
            handler.follow(metrics, registered: &registered)
        }
        return metrics.exposition()
    }
}
