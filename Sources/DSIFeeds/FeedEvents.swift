import DSICore

/// Something about a feed an operator should hear of: the sequencer records it, the runtime (or a command reading a
/// capture) drains and logs it at a bounded rate. Counters say how often; events say what and where.
public enum FeedEvent: Sendable, Equatable {
    /// The feed joined `session` at `start` (the join policy's choice); the first packet seen began at `firstSeen`.
    case joined(session: SessionKey, start: UInt64, firstSeen: UInt64, policy: JoinPolicy)
    /// A new session was believed after `old`, from `sequence`, for `reason`.
    case sessionChanged(old: SessionKey, new: SessionKey, sequence: UInt64, reason: SessionChangeReason)
    /// A packet of a session other than the feed's was held apart (not believed yet, or never: a pinned session).
    case foreignSession(session: SessionKey, sequence: UInt64, current: SessionKey?)
    /// A packet starting implausibly far ahead of the highest sequence seen was quarantined.
    case implausibleSequence(sequence: UInt64, frontier: UInt64)
    /// A jump ahead was confirmed by the lines: `from` is the old frontier, `to` where the lines now are.
    case jumpConfirmed(from: UInt64, to: UInt64)
    /// Packets held apart were let go unconfirmed: another session's, or the feed's own from implausibly far ahead.
    case discarded(session: SessionKey, packets: Int, foreign: Bool)
    /// A range no line and no re-request delivered: reported as a gap tick.
    case lost(LostRange)
    /// The holding store was full (`packets` held); with a server the highest are re-requested later, without one
    /// the oldest gap was given up early.
    case holdingStoreFull(packets: Int, bytes: Int, reRequest: Bool)
    /// The session announced its end at `sequence` (its last message is `sequence - 1`).
    case endOfSession(sequence: UInt64)
    /// A packet of an ended session starting at or beyond its end was dropped.
    case beyondEnd(sequence: UInt64, end: UInt64)
}

/// Why a new session was believed.
public enum SessionChangeReason: Sendable, Equatable, CustomStringConvertible {
    /// The old session had sent its end-of-session packet.
    case ended
    /// The new session persisted on the lines while the old one was silent.
    case persisted
    public var description: String {
        switch self {
        case .ended: "the old one ended"
        case .persisted: "it persisted on the lines while the old one fell silent"
        }
    }
}

/// A bounded queue of events, written on the pipeline thread and drained on the same thread: fixed storage, no
/// allocation. When the reader falls behind, the newest events are dropped and counted.
public struct FeedEvents {
    @usableFromInline var buffer: [FeedEvent?]
    @usableFromInline var head = 0
    @usableFromInline var count = 0
    /// Events dropped because the queue was full.
    public private(set) var dropped = 0

    public init(capacity: Int = 256) {
        buffer = Array(repeating: nil, count: capacity)
    }

    public var isEmpty: Bool { count == 0 }

    public mutating func push(_ event: FeedEvent) {
        guard count < buffer.count else {
            dropped += 1
            return
        }
        buffer[(head + count) % buffer.count] = event
        count += 1
    }

    public mutating func pop() -> FeedEvent? {
        guard count > 0 else { return nil }
        let event = buffer[head]
        buffer[head] = nil
        head = (head + 1) % buffer.count
        count -= 1
        return event
    }
}
