import DSICore

/// One feed from packets to messages in order: MoldUDP64 framing, session and sequence tracking across lines
/// (A/B arbitration: the first arrival of each sequence number wins, later copies are dropped and counted), gap
/// handling, then the consumer (the normalizer, for the live pipeline).
///
/// What it believes, it believes on evidence (docs/feeds.md):
/// - A packet of another session is held apart until that session is confirmed: the old one ended, or the new one
///   persisted for `confirmPackets` packets while the old one was silent (or the operator pinned the session).
/// - A packet starting implausibly far ahead (`RecoveryPolicy.allowance`) is quarantined until the lines confirm the
///   jump; one stray sequence number never becomes a reported loss.
/// - Messages reach the consumer strictly in sequence order. A packet beyond a gap is held while the gap is waited
///   for (other lines, then re-requests, several ranges at once); a range nobody fills is reported lost with its
///   exact bounds, as a `gap` status tick, an event and counters, never skipped silently.
public struct SequencedFeed<Consumer: MessageConsumer> {
    public var consumer: Consumer
    public let counters: FeedCounters
    public var policy: RecoveryPolicy
    /// Notable events (joins, session changes, quarantines, losses) for the runtime's log.
    public var events = FeedEvents()

    /// The next sequence number not yet handled.
    public var expected: UInt64 { _expected }
    @usableFromInline var _expected: UInt64 = 1
    /// The session being followed (nil until one is joined).
    public var currentSession: SessionKey? { session }
    @usableFromInline var session: SessionKey? = nil
    /// One past the highest sequence number a believed packet showed.
    @usableFromInline var frontier: UInt64 = 1
    /// Packets that arrived beyond a gap, held until it is filled or given up.
    @usableFromInline let pending: PendingPackets
    /// What is missing below the frontier, with each range's recovery state.
    @usableFromInline var missing = MissingRanges()
    @usableFromInline let lines = LineProgress()
    /// Packets held apart until confirmed (other sessions, implausible jumps, the first packets).
    @usableFromInline var candidates = SessionCandidates()
    /// Receive time of the last believed packet: the plausibility window grows from here.
    @usableFromInline var lastBelieved: UInt64 = 0
    /// The latest receive time seen: the stream's own clock, which deadlines follow while the pipeline runs behind.
    @usableFromInline var streamTime: UInt64 = 0
    /// Where the feed joined its first session (nil before).
    public internal(set) var joinedAt: UInt64? = nil

    /// One past the last message of the session, once its end-of-session packet is believed.
    public var endSequence: UInt64? { _endSequence }
    @usableFromInline var _endSequence: UInt64? = nil
    /// A heartbeat or end of session that announced a sequence beyond the frontier, not yet corroborated.
    @usableFromInline var pendingAnnouncement: Announcement? = nil
    /// Whether the session's end has been believed.
    public var sessionEnded: Bool { _endSequence != nil }

    /// Sessions this feed has left: their late packets (a slow line, a late reply) are dropped, never taken for a
    /// new session.
    @usableFromInline var retiredSessions: [SessionKey] = []

    /// Re-request pacing: `requestsPerSecond`, in bursts of up to `maxRequestsInFlight`.
    @usableFromInline var requestPacing: TokenBucket
    /// When the first request went that no reply has followed (0: none outstanding), and when the last probe of a
    /// server that stopped answering went.
    @usableFromInline var unansweredSince: UInt64 = 0
    @usableFromInline var lastProbe: UInt64 = 0
    /// Whether the holding store has been full since it last had room (one event per episode).
    @usableFromInline var storeFull = false

    public init(consumer: Consumer, counters: FeedCounters, policy: RecoveryPolicy = .immediate) {
        self.consumer = consumer
        self.counters = counters
        self.policy = policy
        pending = PendingPackets(capacity: policy.holdPackets)
        requestPacing = TokenBucket(rate: policy.requestsPerSecond, burst: Double(policy.maxRequestsInFlight))
    }

    /// Whether anything is missing (held packets wait, or ranges are being recovered).
    public var hasOpenGap: Bool { !missing.isEmpty }
    /// Messages missing below the frontier (being waited for, recovered, or about to be reported lost).
    public var missingMessages: UInt64 { missing.messages }
    /// Missing ranges.
    public var missingRanges: Int { missing.count }
    /// Packets held beyond gaps.
    public var heldPackets: Int { pending.count }
    /// Whether packets are held apart awaiting confirmation (another session's, or an implausible jump).
    public var hasHeldApart: Bool { !candidates.isEmpty }

    /// Processes one datagram of `length` bytes at `p` that arrived on `line` at `receiveTime` (ns since the epoch).
    /// Gaps this reveals are reported lost at once when the policy waits for nothing (`.immediate`); otherwise `poll`
    /// decides.
    @inlinable
    public mutating func process<Sink: TickSink>(
        packet p: UnsafeRawPointer, length: Int, receiveTime: UInt64, line: Int = 0, sink: inout Sink
    ) {
        guard let packet = MoldUDP64Packet(p, length: length) else {
            counters.malformedPackets.add()
            return
        }
        let first = packet.sequence
        // Sequence 0 does not exist, and no session comes near 2^62: such a packet is garbage whatever else it says.
        guard first &- 1 < SequencedFeedLimits.maxSequence &- 1 else {
            counters.malformedPackets.add()
            return
        }
        let key = packet.sessionKey
        let count = packet.messageCount
        if receiveTime > streamTime { streamTime = receiveTime }
        if session == key && count > 0 && first &+ UInt64(count) <= _expected {
            // A copy of what was handled already (mostly the other line's): dropped before it is read any further.
            counters.packets.add()
            counters.duplicatePackets.add()
            counters.duplicateMessages.add(UInt64(count))
            lines.note(line: line, first: first, time: receiveTime)
            return
        }
        // One walk checks that every block lies inside the packet and hints each message, so that what they refer
        // to loads in parallel; a packet that fails is dropped whole (its hints cost nothing).
        guard packet.checkBlocks({ consumer.prefetch($0, length: $1) }) else {
            counters.malformedPackets.add()
            return
        }
        guard session == key else {
            otherSession(
                packet: p, length: length, first: first, count: count, key: key, receiveTime: receiveTime,
                line: line, sink: &sink)
            return
        }
        if first > frontier, let end = _endSequence, first >= end {
            // Beyond the session's believed end, however far: not data, and no run to quarantine.
            counters.beyondEndPackets.add()
            events.push(.beyondEnd(sequence: first, end: end))
            return
        }
        if first > frontier
            && first - frontier > policy.allowance(elapsed: Clock.elapsed(receiveTime, since: lastBelieved))
        {
            consider(
                packet: p, length: length, first: first, count: count, key: key, receiveTime: receiveTime,
                line: line, sink: &sink)
            return
        }
        believe(
            packet: p, length: length, first: first, count: count, isEnd: packet.isEndOfSession,
            receiveTime: receiveTime, line: line, sink: &sink)
    }

    /// Handles a packet of the session that is within reach of the frontier: arbitration, gaps, then the consumer.
    @inlinable
    mutating func believe<Sink: TickSink>(
        packet p: UnsafeRawPointer, length: Int, first: UInt64, count: Int, isEnd: Bool, receiveTime: UInt64, line: Int,
        sink: inout Sink
    ) {
        counters.packets.add()
        if receiveTime > lastBelieved { lastBelieved = receiveTime }
        var count = count
        if let end = _endSequence, first &+ UInt64(count) > end || (count == 0 && first > end) {
            // The session said it ended before this: what lies beyond is not data.
            if first >= end {
                counters.beyondEndPackets.add()
                events.push(.beyondEnd(sequence: first, end: end))
                return
            }
            count = Int(end - first)
        }
        if count == 0 {
            announce(first, isEnd: isEnd, line: line, receiveTime: receiveTime, sink: &sink)
        } else {
            lines.note(line: line, first: first, time: receiveTime)
            let end = first &+ UInt64(count)
            let before = frontier
            if end > frontier {
                if first > frontier {
                    open(first: frontier, last: first - 1, at: receiveTime)
                    if policy.waitsForNothing { giveUpAll(sink: &sink) }
                }
                frontier = end
                if !candidates.isEmpty { candidates.currentShowedLife() }
            }
            if end <= _expected {
                counters.duplicatePackets.add()
                counters.duplicateMessages.add(UInt64(count))
                return
            }
            if first > _expected {
                hold(
                    packet: p, length: length, first: first, count: count, receiveTime: receiveTime, line: line,
                    frontierBefore: before, sink: &sink)
            } else {
                // Held packets lie beyond a missing range, so with none missing nothing is held.
                let wasMissing = !missing.isEmpty
                handle(p, count: count, first: first, receiveTime: receiveTime, line: line, sink: &sink)
                if wasMissing { releaseHeld(sink: &sink) }
            }
        }
    }

    /// Handles a packet's messages from `expected` on, in order.
    @inlinable
    mutating func handle<Sink: TickSink>(
        _ p: UnsafeRawPointer, count: Int, first: UInt64, receiveTime: UInt64, line: Int, sink: inout Sink
    ) {
        let skip = Int(_expected - first)  // first <= _expected < first + count here
        if skip > 0 { counters.duplicateMessages.add(UInt64(skip)) }
        let recovered = line == LineIndex.recovery
        // A live packet's messages were hinted when `process` checked it (a held one's go unhinted). A plain loop,
        // not `forEachMessage`: a closure would need a copy of the consumer, and mutating that copy would copy its
        // books.
        var offset = MoldUDP64Packet.headerSize
        for index in 0..<count {
            let messageLength = Int(p.bigEndianU16(at: offset))  // in bounds: checkBlocks checked every block
            if index >= skip {
                consumer.handle(
                    p + offset + 2, length: messageLength, seq: first &+ UInt64(index),
                    receiveTime: receiveTime, sink: &sink)
            }
            offset += 2 + messageLength
        }
        // Counted once per packet, not per message: a reader sees the packet's messages appear together.
        counters.messages.add(UInt64(count - skip))
        if recovered { counters.recoveredMessages.add(UInt64(count - skip)) }
        let end = first &+ UInt64(count)
        if !missing.isEmpty { missing.remove(first: _expected, end: end, byRecovery: recovered, now: receiveTime) }
        _expected = end
    }

    /// A heartbeat or end-of-session packet: it carries the next sequence number, so an idle line still shows a gap.
    ///
    /// One that claims more than the data showed (a sequence beyond the frontier) is believed once corroborated: by
    /// another line, or by the same line a while later (servers repeat them). One stray packet neither opens a range
    /// that does not exist nor ends a day; a line that lost the last packets before an idle spell still shows it.
    @usableFromInline
    mutating func announce<Sink: TickSink>(_ next: UInt64, isEnd: Bool, line: Int, receiveTime: UInt64, sink: inout Sink) {
        if isEnd {
            counters.endOfSession.add()
        } else {
            counters.heartbeats.add()
            if !candidates.isEmpty { candidates.currentShowedLife() }
        }
        if next <= frontier {
            lines.note(line: line, first: next, time: receiveTime)
            // At the frontier an end claims nothing the data has not shown; behind it, the data contradicts it.
            if isEnd && next == frontier { believeEnd(next) }
            return
        }
        let this = Announcement(next: next, line: line, time: receiveTime, isEnd: isEnd)
        // A claim the frontier has since reached (data, or a confirmed jump) is no longer pending.
        guard let earlier = pendingAnnouncement, earlier.next > frontier, this.corroborates(earlier) else {
            pendingAnnouncement = this
            lines.note(line: line, first: frontier, time: receiveTime)
            return
        }
        let to = min(next, earlier.next)
        open(first: frontier, last: to - 1, at: receiveTime)
        frontier = to
        // Both lines said they have nothing more below `to`.
        lines.note(line: earlier.line, first: to, time: earlier.time)
        lines.note(line: line, first: to, time: receiveTime)
        if isEnd && earlier.isEnd && next == earlier.next { believeEnd(next) }
        pendingAnnouncement = next > to ? this : nil
        if policy.waitsForNothing { giveUpAll(sink: &sink) }
    }

    @usableFromInline
    mutating func believeEnd(_ next: UInt64) {
        guard _endSequence == nil else { return }
        _endSequence = next
        events.push(.endOfSession(sequence: next))
    }

    /// Opens a missing range at the frontier.
    @usableFromInline
    mutating func open(first: UInt64, last: UInt64, at time: UInt64) {
        counters.gaps.add()
        missing.append(first: first, last: last, seenAt: time)
    }
}

/// A heartbeat's or end of session's claim about the next sequence number, kept until another corroborates it.
@usableFromInline
struct Announcement {
    /// Copies of one packet on two lines arrive closer than this; a server repeats heartbeats about once a second.
    static let repeatSpacing: UInt64 = 500_000_000

    @usableFromInline var next: UInt64
    var line: Int
    var time: UInt64
    var isEnd: Bool

    @usableFromInline
    init(next: UInt64, line: Int, time: UInt64, isEnd: Bool) {
        self.next = next
        self.line = line
        self.time = time
        self.isEnd = isEnd
    }

    /// Whether this claim backs `earlier`: at least as far, from another line or later on the same one.
    func corroborates(_ earlier: Announcement) -> Bool {
        next >= earlier.next && (line != earlier.line || Clock.elapsed(time, since: earlier.time) >= Self.repeatSpacing)
    }
}
