/// How a feed waits for a missing range: first for another line to deliver it, then by asking the MoldUDP64
/// re-request server, and finally by reporting it lost.
public struct RecoveryPolicy: Sendable {
    /// How long other lines get to fill a gap before a re-request is sent (ns).
    public var lineWaitNanos: UInt64 = 2_000_000
    /// How long to wait for a reply before asking again (ns).
    public var requestTimeoutNanos: UInt64 = 50_000_000
    /// Requests without progress before the range is reported lost.
    public var maxRetries = 3
    /// Whether a re-request server is configured; without one a gap no line fills is lost after `lineWaitNanos`.
    public var hasServer = false
    /// Packets held while waiting; when full, the oldest gap is given up so that memory and delay stay bounded.
    public var maxPendingPackets = 4096
    /// Largest count in one request (MoldUDP64's count is a u16; servers cap replies by the MTU anyway).
    public var maxRequestCount: UInt16 = 65_535

    public init() {}

    /// Report gaps at once (the recovery-less behaviour of tools that read a finished capture).
    public static var immediate: RecoveryPolicy {
        var p = RecoveryPolicy()
        p.lineWaitNanos = 0
        return p
    }
}

/// Sends MoldUDP64 re-requests (the runtime's UDP client; tests' fakes).
public protocol RecoveryRequester {
    /// Asks for `count` messages from `first` of the session whose 10 raw bytes are `session`.
    mutating func request(session: SessionKey, first: UInt64, count: UInt16)
}

/// For feeds without a re-request server.
public struct NoRecovery: RecoveryRequester {
    public init() {}
    public mutating func request(session: SessionKey, first: UInt64, count: UInt16) {}
}

/// A range given up as lost: what the log and the gap tick report.
public struct LostRange: Sendable, Equatable {
    public var first: UInt64
    public var last: UInt64
    public init(first: UInt64, last: UInt64) {
        self.first = first
        self.last = last
    }
}
