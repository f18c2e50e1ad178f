import DSICore

/// What a sequenced feed hands each message to, in sequence order: the normalizer (books and ticks), or `dsi decode`'s
/// printer.
public protocol MessageConsumer {
    /// One message of `length` bytes at `p`, with its MoldUDP64 sequence number.
    mutating func handle<Sink: TickSink>(_ p: UnsafeRawPointer, length: Int, seq: UInt64, receiveTime: UInt64, sink: inout Sink)
    /// A session begins: the feed's first (`isFirst`), or a new day after another (forget the old one's state).
    mutating func sessionBegins(_ name: String, isFirst: Bool)
    /// A hint that the message at `p` will be handled soon (e.g. to prefetch what it refers to).
    func prefetch(_ p: UnsafeRawPointer, length: Int)
}

extension MessageConsumer {
    @inlinable public func prefetch(_ p: UnsafeRawPointer, length: Int) {}
}

/// The live pipeline's stage from packets to ticks.
public typealias FeedProcessor = SequencedFeed<Normalizer>

extension SequencedFeed where Consumer == Normalizer {
    public init(expectedOrders: Int, counters: FeedCounters = FeedCounters(), policy: RecoveryPolicy = .immediate) {
        self.init(consumer: Normalizer(expectedOrders: expectedOrders, counters: counters), counters: counters, policy: policy)
    }

    /// The books and tick builder.
    public var normalizer: Normalizer { consumer }
}

/// One feed from packets to messages in order: MoldUDP64 framing, session and sequence tracking across lines
/// (A/B arbitration: the first arrival of each sequence number wins, later copies are dropped and counted), gap
/// handling, then the consumer (the normalizer, for the live pipeline).
///
/// Messages reach the books strictly in sequence order. A packet that arrives after a gap is held while the gap is
/// waited for (another line, then the re-request server: see `RecoveryPolicy`); a range nobody fills in time is
/// reported lost, with its exact range, as a `gap` status tick and in the counters, never skipped silently.
public struct SequencedFeed<Consumer: MessageConsumer> {
    public var consumer: Consumer
    public let counters: FeedCounters
    public var policy: RecoveryPolicy
    /// The next sequence number not yet handled.
    public var expected: UInt64 { _expected }
    @usableFromInline var _expected: UInt64 = 1
    @usableFromInline var session: SessionKey? = nil
    @usableFromInline let pending: PendingPackets
    /// The open gap: when it was seen, requests sent without progress, when the last one went.
    @usableFromInline var gapSince: UInt64? = nil
    @usableFromInline var gapRetries = 0
    @usableFromInline var gapLastRequest: UInt64 = 0
    /// The next sequence a heartbeat or end-of-session announced, when it is beyond `expected`.
    @usableFromInline var announcedNext: UInt64 = 0
    /// One past the highest sequence number any packet has shown: a packet starting beyond it opens a new gap.
    @usableFromInline var frontier: UInt64 = 1
    /// Whether the feed's last packet was an end-of-session packet.
    public var sessionEnded = false
    /// The last range given up, for the runtime's log.
    public var lastLost: LostRange? { _lastLost }
    @usableFromInline var _lastLost: LostRange? = nil

    /// Sessions this feed has left: their late packets (a slow line, a late reply) are dropped, never taken for a
    /// new session.
    @usableFromInline var retiredSessions: [SessionKey] = []
    /// The clock of the last `process` or `poll` call.
    @usableFromInline var lastNow: UInt64 = 0

    public init(consumer: Consumer, counters: FeedCounters, policy: RecoveryPolicy = .immediate) {
        self.consumer = consumer
        self.counters = counters
        self.policy = policy
        pending = PendingPackets(capacity: max(1, policy.maxPendingPackets))
    }

    /// Whether a gap is open (messages are being held or waited for).
    public var hasOpenGap: Bool { gapSince != nil }

    /// Processes one datagram of `length` bytes at `p` that arrived on `line` at `receiveTime` (ns since the epoch).
    /// Gaps this reveals are reported lost at once when the policy waits for nothing (`.immediate`); otherwise `poll`
    /// decides.
    /// - Parameter now: when the pipeline handles the packet (the same clock as `receiveTime`; defaults to it). A gap's
    ///   wait for other lines starts here, not at the kernel's receive time: when the pipeline runs behind, the other
    ///   line's copy is still queued in its socket, and must not be given up for lost.
    @inlinable
    public mutating func process<Sink: TickSink>(
        packet p: UnsafeRawPointer, length: Int, receiveTime: UInt64, line: Int = 0, now: UInt64? = nil, sink: inout Sink
    ) {
        let now = now ?? receiveTime
        lastNow = now
        guard let packet = MoldUDP64Packet(p, length: length) else {
            counters.malformedPackets.add()
            return
        }
        let key = packet.sessionKey
        let count = packet.messageCount
        if session == key && count > 0 && packet.sequence &+ UInt64(count) <= _expected {
            // A copy of what was handled already (mostly the other line's): dropped before it is read any further.
            counters.packets.add()
            counters.duplicatePackets.add()
            counters.duplicateMessages.add(UInt64(count))
            return
        }
        // One walk checks that every block lies inside the packet and hints each message, so that what they refer
        // to loads in parallel; a packet that fails is dropped whole (its hints cost nothing).
        guard packet.checkBlocks({ consumer.prefetch($0, length: $1) }) else {
            counters.malformedPackets.add()
            return
        }
        if session != key {
            if retiredSessions.contains(key) {
                counters.staleSessionPackets.add()
                return
            }
            let isFirst = session == nil
            if !isFirst { changeSession(now: now, sink: &sink) }
            session = key
            consumer.sessionBegins(packet.session, isFirst: isFirst)
        }
        counters.packets.add()
        let first = packet.sequence
        if packet.isEndOfSession { counters.endOfSession.add(); sessionEnded = true }
        else if count == 0 { counters.heartbeats.add() }

        // Each distinct hole is counted once, when a packet first shows it.
        if first > max(frontier, _expected) { counters.gaps.add() }
        frontier = max(frontier, first &+ UInt64(count))
        if count == 0 {
            // Heartbeats and end of session carry the next sequence number: an idle line still shows a gap.
            if first > _expected {
                announcedNext = max(announcedNext, first)
                openGap(now: now)
            }
        } else {
            let end = first &+ UInt64(count)
            if end <= _expected {
                counters.duplicatePackets.add()
                counters.duplicateMessages.add(UInt64(count))
                return
            }
            if first > _expected {
                guard hold(packet: p, length: length, first: first, count: count, receiveTime: receiveTime, line: line, now: now, sink: &sink) else { return }
            } else {
                handle(p, count: count, first: first, receiveTime: receiveTime, line: line, sink: &sink)
                if gapSince != nil { releaseHeld(sink: &sink) }  // nothing is held while no gap is open
            }
        }
        if policy.lineWaitNanos == 0 && !policy.hasServer && hasOpenGap { giveUp(now: now, sink: &sink) }
    }

    /// Advances an open gap with time: sends re-requests when lines did not fill it, reports it lost when retries
    /// run out. Call it from the duty cycle (it is cheap when no gap is open).
    public mutating func poll<Requester: RecoveryRequester, Sink: TickSink>(
        now: UInt64, requester: inout Requester, sink: inout Sink
    ) {
        lastNow = now
        guard let since = gapSince, let key = session else { return }
        if now &- since < policy.lineWaitNanos { return }
        if !policy.hasServer {
            giveUp(now: now, sink: &sink)
            return
        }
        if gapLastRequest != 0 && now &- gapLastRequest < policy.requestTimeoutNanos { return }
        if gapRetries >= policy.maxRetries {
            giveUp(now: now, sink: &sink)
            return
        }
        let missing = missingEnd() - _expected + 1
        requester.request(session: key, first: _expected, count: UInt16(min(missing, UInt64(policy.maxRequestCount))))
        counters.recoveryRequests.add()
        gapRetries += 1
        gapLastRequest = now
    }

    // MARK: Internals

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
            let messageLength = Int(p.bigEndianU16(at: offset))  // in bounds: hintBlocks checked every block
            if index >= skip {
                consumer.handle(p + offset + 2, length: messageLength, seq: first &+ UInt64(index),
                                  receiveTime: receiveTime, sink: &sink)
            }
            offset += 2 + messageLength
        }
        // Counted once per packet, not per message: a reader sees the packet's messages appear together.
        counters.messages.add(UInt64(count - skip))
        if recovered { counters.recoveredMessages.add(UInt64(count - skip)) }
        _expected = first &+ UInt64(count)
        if gapSince != nil {
            // Progress on an open gap. From a partial reply: ask for the rest at once. From a line: what is still
            // missing gets its own full wait for the lines first.
            if !recovered { gapSince = lastNow }
            gapRetries = 0
            gapLastRequest = 0
        }
    }

    /// Keeps a packet that arrived beyond a gap. Returns false when it was dealt with otherwise.
    @usableFromInline
    mutating func hold<Sink: TickSink>(
        packet p: UnsafeRawPointer, length: Int, first: UInt64, count: Int, receiveTime: UInt64, line: Int, now: UInt64,
        sink: inout Sink
    ) -> Bool {
        openGap(now: now)
        if pending.isFull, let lowest = pending.lowest, first < lowest {
            // No room, but this packet comes before everything held: only what lies before it is given up.
            giveUp(now: now, upTo: first - 1, sink: &sink)
            if first &+ UInt64(count) > _expected {
                handle(p, count: count, first: first, receiveTime: receiveTime, line: line, sink: &sink)
            }
            releaseHeld(sink: &sink)
            if !pending.isEmpty { openGap(now: now) }
            return false
        }
        if pending.isFull {
            // Bounded waiting: give up the oldest gap, handle what is held, and try again.
            giveUp(now: now, sink: &sink)
            if first <= _expected {
                if first &+ UInt64(count) > _expected {
                    handle(p, count: count, first: first, receiveTime: receiveTime, line: line, sink: &sink)
                    releaseHeld(sink: &sink)
                }
                return false
            }
            openGap(now: now)
        }
        if !pending.insert(first: first, count: count, bytes: p, length: length, receiveTime: receiveTime, line: line) {
            counters.malformedPackets.add()  // larger than a slot: cannot be a MoldUDP64 packet under the MTU
            return false
        }
        return true
    }

    @usableFromInline
    mutating func openGap(now: UInt64) {
        if gapSince == nil {
            gapSince = now
            gapRetries = 0
            gapLastRequest = 0
        }
    }

    /// The last missing sequence number of the open gap.
    @usableFromInline
    func missingEnd() -> UInt64 {
        if let lowest = pending.lowest { return lowest - 1 }
        return max(announcedNext, _expected + 1) - 1
    }

    /// Handles held packets that are now in order; closes the gap when nothing is missing.
    @usableFromInline
    mutating func releaseHeld<Sink: TickSink>(sink: inout Sink) {
        while let lowest = pending.lowest, lowest <= _expected {
            let entry = pending.removeLowest()!
            if entry.first &+ UInt64(entry.count) > _expected {
                handle(pending.bytes(entry), count: entry.count, first: entry.first, receiveTime: entry.receiveTime,
                       line: entry.line, sink: &sink)
            } else {
                counters.duplicatePackets.add()
                counters.duplicateMessages.add(UInt64(entry.count))
            }
        }
        if pending.isEmpty && announcedNext <= _expected {
            gapSince = nil
            announcedNext = 0
        }
    }

    /// Reports the open gap's missing range (or its part up to `upTo`) lost and moves past it.
    @usableFromInline
    mutating func giveUp<Sink: TickSink>(now: UInt64, upTo: UInt64? = nil, sink: inout Sink) {
        guard gapSince != nil else { return }
        let last = min(missingEnd(), upTo ?? .max)
        if last >= _expected {
            let lost = LostRange(first: _expected, last: last)
            _lastLost = lost
            counters.lostGaps.add()
            counters.lostMessages.add(last - _expected + 1)
            var tick = Tick(kind: .status)
            tick.statusType = Tick.gapStatusType
            tick.seq = lost.first
            tick.gapFirst = lost.first
            tick.gapLast = lost.last
            tick.receiveTime = now
            counters.ticks.add()
            sink.publish(tick)
            _expected = last + 1
        }
        gapSince = nil
        releaseHeld(sink: &sink)
        if !pending.isEmpty || announcedNext > _expected {
            // Another gap lies beyond the one just given up: it waits afresh.
            gapSince = now
            gapRetries = 0
            gapLastRequest = 0
        }
    }

    /// Gives up every open gap (the end of a capture: nothing more can fill them).
    public mutating func finish<Sink: TickSink>(now: UInt64, sink: inout Sink) {
        while hasOpenGap { giveUp(now: now, sink: &sink) }
    }

    /// A new session (a new day): what the old one still waits for is reported lost (never dropped silently), the
    /// old session is retired, and sequence numbers and books start afresh.
    @usableFromInline
    mutating func changeSession<Sink: TickSink>(now: UInt64, sink: inout Sink) {
        finish(now: now, sink: &sink)
        counters.sessionChanges.add()
        if let session {
            retiredSessions.append(session)
            if retiredSessions.count > 8 { retiredSessions.removeFirst() }
        }
        _expected = 1
        frontier = 1
        gapSince = nil
        announcedNext = 0
        // The consumer hears of the new session from `process` (the directory, orders and books were the old day's).
    }
}
