import DSICore

/// What a feed's pipeline counted. Written by the pipeline thread only, readable from any (see `Counter`).
/// docs/feeds.md says what each one means.
public final class FeedCounters: Sendable {
    public let packets = Counter()
    public let messages = Counter()
    public let duplicatePackets = Counter()
    public let duplicateMessages = Counter()
    public let gaps = Counter()
    public let lostMessages = Counter()
    public let lostGaps = Counter()
    public let recoveryRequests = Counter()
    public let recoveredMessages = Counter()
    public let heartbeats = Counter()
    public let endOfSession = Counter()
    public let sessionChanges = Counter()
    public let staleSessionPackets = Counter()
    public let foreignSessionPackets = Counter()
    public let implausiblePackets = Counter()
    public let beyondEndPackets = Counter()
    public let notHeldPackets = Counter()
    public let malformedPackets = Counter()
    public let unknownMessages = Counter()
    public let shortMessages = Counter()
    public let unknownOrders = Counter()
    public let ticks = Counter()

    public init() {}

    /// Name and value of every counter, in a fixed order (logs, summaries, JSON).
    public var snapshot: [(String, UInt64)] {
        [
            ("packets", packets.load), ("messages", messages.load), ("duplicatePackets", duplicatePackets.load),
            ("duplicateMessages", duplicateMessages.load), ("gaps", gaps.load), ("lostMessages", lostMessages.load),
            ("lostGaps", lostGaps.load), ("recoveryRequests", recoveryRequests.load),
            ("recoveredMessages", recoveredMessages.load),
            ("heartbeats", heartbeats.load), ("endOfSession", endOfSession.load), ("sessionChanges", sessionChanges.load),
            ("staleSessionPackets", staleSessionPackets.load), ("foreignSessionPackets", foreignSessionPackets.load),
            ("implausiblePackets", implausiblePackets.load), ("beyondEndPackets", beyondEndPackets.load),
            ("notHeldPackets", notHeldPackets.load),
            ("malformedPackets", malformedPackets.load), ("unknownMessages", unknownMessages.load),
            ("shortMessages", shortMessages.load), ("unknownOrders", unknownOrders.load), ("ticks", ticks.load),
        ]
    }
}
