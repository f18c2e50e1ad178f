import DSICore
import Logging

/// The publisher's log of connection events, each kind at a bounded rate: 5 000 clients connecting, failing their
/// handshake or being refused must not write 5 000 lines. What the rate holds back is counted in the next line of its
/// kind, or summarised once the storm is over.
struct ConnectionLog {
    enum Event: Int, CaseIterable {
        case refused, connected, closed, handshakeFailed, handshakeTimeout, slowConsumer, protocolError, request

        var name: String {
            switch self {
            case .refused: "refused connections"
            case .connected: "subscribers connected"
            case .closed: "subscribers closed"
            case .handshakeFailed: "failed TLS handshakes"
            case .handshakeTimeout: "connections without a handshake in time"
            case .slowConsumer: "slow consumers disconnected"
            case .protocolError: "subscribers cut off for breaking the protocol"
            case .request: "subscription requests"
            }
        }
    }

    let logger: Logger
    var limits: LogRateLimits
    /// Whether any line has been held back and not yet summarised (checked once a second by `summarize`).
    var holding: Bool { limits.holding }

    init(logger: Logger, perSecond: Int) {
        self.logger = logger
        limits = LogRateLimits(kinds: Event.allCases.count, perSecond: perSecond)
    }

    /// Logs `message` at `level`, unless lines of this kind are over their rate (then it is counted).
    mutating func note(_ event: Event, _ level: Logger.Level, _ message: @autoclosure () -> String) {
        guard let held = limits.admit(event.rawValue, now: Clock.monotonicNanos()) else { return }
        logger.log(level: level, "\(message())\(held > 0 ? " (\(held) more \(event.name) not logged)" : "")")
    }

    /// One line per kind for what was held back and not reported since (call it about once a second).
    mutating func summarize() {
        for (kind, held) in limits.summaries(now: Clock.monotonicNanos()) {
            logger.warning(
                "\(held) more \(Event(rawValue: kind)!.name) in the last seconds were not logged (the counters have them all)")
        }
    }
}
