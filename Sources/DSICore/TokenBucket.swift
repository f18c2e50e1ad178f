/// Paces something to `rate` a second with bursts of up to `burst`: a token is taken per act, and tokens come back
/// with time. Starts full. What a re-request client and a re-request server both hold their requests to.
public struct TokenBucket: Sendable {
    public let rate: Double
    public let burst: Double
    public private(set) var tokens: Double
    /// When tokens were last added (0: never).
    var refilledAt: UInt64 = 0

    /// - Parameters:
    ///   - rate: tokens added per second.
    ///   - burst: the most held at once.
    public init(rate: Double, burst: Double) {
        self.rate = rate
        self.burst = burst
        tokens = burst
    }

    /// Adds the tokens earned since the last call; `now` in ns on any clock (one that steps back adds nothing).
    public mutating func refill(now: UInt64) {
        if refilledAt != 0 && now > refilledAt { tokens = min(burst, tokens + Double(now - refilledAt) * rate / 1e9) }
        refilledAt = now
    }

    /// Takes a token if one is there.
    public mutating func take() -> Bool {
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}
