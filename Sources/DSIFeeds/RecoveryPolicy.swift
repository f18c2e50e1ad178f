import DSICore

/// How a feed trusts what its lines say, waits for what they miss and recovers it: the knobs behind `SequencedFeed`.
/// docs/feeds.md explains each; docs/operations.md says what an operator sees when they act.
public struct RecoveryPolicy: Sendable {
    // MARK: Waiting for the lines

    /// A line that has not yet sent anything beyond a missing range is waited for while it keeps sending: until it
    /// passes the range (it does not have it), delivers it, or falls this far (ns) behind the other lines' latest
    /// packet (it has stalled). Lines running milliseconds apart are waited for as long as they run apart; a pause
    /// of the whole feed stalls no line. 0 waits for nothing.
    public var lineWaitNanos: UInt64 = 10_000_000
    /// The longest a range waits for the lines, whatever they do (ns); also how long a line not heard from since the
    /// feed began is waited for.
    public var maxLineLagNanos: UInt64 = 1_000_000_000
    /// Lines the feed has: each is waited for from the start, even before its first packet arrives.
    public var lines = 1

    // MARK: Re-requests

    /// Whether a re-request server is configured; without one a range no line fills is lost after the line wait.
    public var hasServer = false
    /// How long to wait for a reply before asking again (ns).
    public var requestTimeoutNanos: UInt64 = 50_000_000
    /// Requests for one range without progress before it is reported lost.
    public var maxRetries = 3
    /// Messages asked for in one request: a range larger than this is asked for in pieces, several in flight. A
    /// reply carries what fits in one datagram (about 40 to 60 ITCH messages); the rest is asked for at once.
    public var requestMessages: UInt16 = 64
    /// Requests awaiting a reply at once, over all ranges.
    public var maxRequestsInFlight = 64
    /// Requests per second at most (a MoldUDP64 server refuses clients that flood it); bursts up to
    /// `maxRequestsInFlight`.
    public var requestsPerSecond = 10_000.0

    // MARK: Holding

    /// Bytes of packets held beyond a gap (each takes one `PendingPackets.slotSize` slot). When full, a feed with a
    /// re-request server keeps the lowest packets and re-requests the rest later; one without gives up its oldest gap.
    public var holdBytes = 64 << 20
    /// Packets that fit in `holdBytes`.
    public var holdPackets: Int { max(1, holdBytes / PendingPackets.slotSize) }

    // MARK: Trust

    /// The session to accept, its 10 bytes space padded; nil believes a new session once it is confirmed.
    public var pinnedSession: SessionKey? = nil
    /// Where a feed starts when it joins a session.
    public var join: JoinPolicy = .first
    /// Packets, each continuing the one before, that confirm a new session or a jump in sequence numbers (1 believes
    /// the first packet).
    public var confirmPackets = 3
    /// How far ahead of the highest sequence seen a packet may start and still be believed at once: `sequenceSlack`
    /// messages plus what the feed can carry (`maxMessagesPerSecond`) in the time since the last packet. Beyond that a
    /// packet is quarantined until `confirmPackets` packets confirm the jump.
    public var sequenceSlack: UInt64 = 4_096
    /// The most messages per second the feed can carry (a 10 GbE line full of small ITCH messages carries about 20 M).
    public var maxMessagesPerSecond: UInt64 = 20_000_000
    /// A quarantined packet or another session's that nothing confirms is let go after this long (ns).
    public var quarantineNanos: UInt64 = 2_000_000_000

    public init() {}

    /// Believe every packet and report gaps at once, waiting for nothing (the benchmark's and the unit tests'
    /// simplest path; never a live feed's).
    public static var immediate: RecoveryPolicy {
        var p = RecoveryPolicy()
        p.lineWaitNanos = 0
        p.confirmPackets = 1
        return p
    }

    /// A finished capture: a gap waits for a later line's copy until the file ends (or the holding store fills).
    public static var capture: RecoveryPolicy {
        var p = RecoveryPolicy()
        p.lineWaitNanos = .max
        return p
    }

    /// Whether a gap is given up the moment it is seen (no line wait, no server).
    @inlinable
    var waitsForNothing: Bool { lineWaitNanos == 0 && !hasServer }

    /// How many messages ahead of the highest sequence seen a packet may start, `elapsed` ns after the last one.
    @inlinable
    func allowance(elapsed: UInt64) -> UInt64 {
        // Saturating: a capture's clock may jump by years, and a window that wraps would believe anything.
        let (carried, overflow) = (elapsed / 1_000).multipliedReportingOverflow(by: maxMessagesPerSecond / 1_000_000 &+ 1)
        if overflow { return .max }
        let (sum, overflow2) = sequenceSlack.addingReportingOverflow(carried)
        return overflow2 ? .max : sum
    }
}

/// Where a feed starts in a session it joins.
public enum JoinPolicy: Sendable, Equatable, CustomStringConvertible {
    /// At the first sequence seen: what came before is not claimed lost (the default for live lines). A first
    /// sequence within `sequenceSlack` of 1 means the session has just begun: the feed starts at 1.
    case first
    /// From sequence 1: what came before the first packet is re-requested, paced, in pieces.
    case recover
    /// From this sequence: what lies between it and the first packet is re-requested; earlier messages are skipped.
    case sequence(UInt64)

    public var description: String {
        switch self {
        case .first: "first"
        case .recover: "recover"
        case .sequence(let n): "\(n)"
        }
    }

    /// `first`, `recover`, or a sequence number from 1.
    public init?(_ text: String) {
        switch text {
        case "first": self = .first
        case "recover": self = .recover
        default:
            guard let n = UInt64(text), n >= 1, n < SequencedFeedLimits.maxSequence else { return nil }
            self = .sequence(n)
        }
    }
}

/// Bounds that hold for every MoldUDP64 feed.
public enum SequencedFeedLimits {
    /// Sequence numbers at or above this are refused as malformed: no session carries 2^62 messages, and sums of a
    /// sequence and a count stay far from overflow.
    public static let maxSequence: UInt64 = 1 << 62
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
    public var count: UInt64 { last - first + 1 }
}
