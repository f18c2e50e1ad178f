/// Bounds on what subscribers' connections may hold of a publisher: however many clients connect, however slowly they
/// handshake, the publisher's descriptors, memory and log stay bounded.
public struct ConnectionLimits: Sendable, Equatable {
    /// Connections open at once (handshaking or subscribed); more are closed as they arrive.
    public var maxConnections = 1_024
    /// Connections open at once from one client address.
    public var maxPerAddress = 64
    /// TLS handshakes in progress at once (each holds a session and costs CPU): more connections are closed.
    public var maxHandshakes = 64
    /// A connection that has not finished its TLS handshake this long after it was accepted is closed (ns).
    public var handshakeTimeoutNanos: UInt64 = 5_000_000_000
    /// Log lines per second for each kind of repeated connection event (refused, handshake failed, timed out,
    /// subscriber came or went); the rest are counted and summarised.
    public var logLinesPerSecond = 10

    public init() {}
}
