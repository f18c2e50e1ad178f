import DSICore
import Logging

/// The publisher's log of connection events, each kind at a bounded rate: 5 000 clients connecting, failing their
/// handshake or being refused must not write 5 000 lines. What the rate holds back is counted in the next line of its
/// kind, or summarised once the storm is over.
struct ConnectionLog {
    enum Event: Int, CaseIterable {
        case refused, connected, closed, handshakeFailed, handshakeTimeout, slowConsumer

        var name: String {
            switch self {
            case .refused: "refused connections"
            case .connected: "subscribers connected"
            case .closed: "subscribers closed"
            case .handshakeFailed: "failed TLS handshakes"
            case .handshakeTimeout: "connections without a handshake in time"
            case .slowConsumer: "slow consumers disconnected"
            }
        }
    }

    let logger: Logger
    var limiters: [LogRateLimiter]
    /// Whether any line has been held back and not yet summarised (checked once a second by `summarize`).
    var holding = false

    init(logger: Logger, perSecond: Int) {
        self.logger = logger
        limiters = Event.allCases.map { _ in LogRateLimiter(perSecond: perSecond) }
    }

    /// Logs `message` at `level`, unless lines of this kind are over their rate (then it is counted).
    mutating func note(_ event: Event, _ level: Logger.Level, _ message: @autoclosure () -> String) {
        guard let held = limiters[event.rawValue].admit(now: Clock.monotonicNanos()) else {
            holding = true
            return
        }
        logger.log(level: level, "\(message())\(held > 0 ? " (\(held) more \(event.name) not logged)" : "")")
    }

    /// One line per kind for what was held back and not reported since (call it about once a second).
    mutating func summarize() {
        guard holding else { return }
        let now = Clock.monotonicNanos()
        holding = false
        for event in Event.allCases {
            if let held = limiters[event.rawValue].summary(now: now) {
                logger.warning("\(held) more \(event.name) in the last seconds were not logged (the counters have them all)")
            } else if limiters[event.rawValue].suppressed > 0 {
                holding = true
            }
        }
    }
}
