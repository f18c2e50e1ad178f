/// What a logged-in subscriber may ask of a publisher, and how long it may stay silent: enforced per session, so
/// no client can grow the publisher's memory or work without bound (docs/publish-protocol.md, "Limits").
public struct SubscriberLimits: Sendable, Equatable {
    /// Symbols one subscriber may name at once (every-symbol subscriptions count as none).
    public var maxSymbols = 10_000
    /// Frames a subscriber may send per second, on average; `burst` at once. Beyond it: a goodbye.
    public var framesPerSecond = 50.0
    public var burst = 200.0
    /// A login must follow the handshake within this (ns).
    public var loginTimeoutNanos: UInt64 = 5_000_000_000
    /// A subscriber that sends nothing (not even a heartbeat) for this long is dropped (ns).
    public var silenceTimeoutNanos: UInt64 = 30_000_000_000
    /// The publisher sends a heartbeat after this long without sending anything (ns).
    public var heartbeatNanos: UInt64 = 1_000_000_000

    public init() {}
}
