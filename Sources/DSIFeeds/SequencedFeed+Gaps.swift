import DSICore

/// Gaps: holding what arrives beyond them, asking for what no line delivers, and reporting what nobody can.
extension SequencedFeed {
    /// Advances recovery with time: ranges the lines have not filled are re-requested (several at once, paced),
    /// requests that went unanswered are repeated, and ranges whose retries ran out are reported lost.
    ///
    /// Call it from the duty cycle whenever `hasOpenGap` or `hasHeldApart` (at most every 100 µs is plenty).
    /// - Parameters:
    ///   - now: the wall clock (ns since the epoch, the receive timestamps' clock).
    ///   - caughtUp: whether nothing received waits unprocessed. While the pipeline runs behind, a line is not judged
    ///     stalled (its latest packets may be queued) and deadlines follow the stream's own clock (the receive time of
    ///     the latest packet handled): a copy still queued behind a backlog is not given up for lost, and yet a
    ///     saturated pipeline still recovers.
    public mutating func poll<Requester: RecoveryRequester, Sink: TickSink>(
        now: UInt64, caughtUp: Bool = true, requester: inout Requester, sink: inout Sink
    ) {
        let clock = caughtUp ? max(now, streamTime) : streamTime
        if !candidates.isEmpty { expireCandidates(clock: clock, sink: &sink) }
        guard let key = session, !missing.isEmpty else { return }
        requestPacing.refill(now: now)
        // A server that has answered nothing for a whole round of retries is treated as absent (ranges the lines
        // cannot bring are reported lost promptly), and probed once a timeout, so that it is used again when it
        // answers.
        if lines.lastReply >= unansweredSince { unansweredSince = 0 }
        let serverAnswers =
            policy.hasServer
            && (unansweredSince == 0
                || Clock.elapsed(clock, since: unansweredSince) < policy.requestTimeoutNanos &* UInt64(policy.maxRetries + 1))
        var probe = policy.hasServer && !serverAnswers && Clock.elapsed(clock, since: lastProbe) >= policy.requestTimeoutNanos
        var inFlight = 0
        // A full store cannot keep a reply for a later range: only the first range is asked for, and its reply is
        // handled at once, which frees what is held behind it.
        let onlyFirst = pending.isFull
        var i = missing.indices.lowerBound
        while i < missing.indices.upperBound {
            let r = missing[i]
            if r.lost {
                i += 1
                continue
            }
            let waited =
                policy.lineWaitNanos == 0 || r.dropped || Clock.elapsed(clock, since: r.seenAt) >= policy.maxLineLagNanos
                || !lines.mayStillDeliver(
                    r.last, stall: policy.lineWaitNanos, firstWait: policy.maxLineLagNanos,
                    judgeStalls: caughtUp)
            // Ranges further on are newer and lines reach them later: none of them is due either.
            guard waited else { break }
            guard serverAnswers else {
                if r.requestedAt != 0 && Clock.elapsed(clock, since: r.requestedAt) < policy.requestTimeoutNanos {
                    i += 1  // a probe awaiting its reply
                    continue
                }
                if probe && r.requestedAt == 0 {
                    probe = false
                    lastProbe = max(clock, 1)
                    requestPiece(at: i, session: key, clock: clock, requester: &requester)
                    i += 1
                    continue
                }
                // Nothing but a line can bring it now: before calling it lost, give a packet that was reordered on
                // its way (it arrives after ones that followed it) the line wait too.
                if policy.lineWaitNanos == 0 || r.dropped
                    || Clock.elapsed(clock, since: r.seenAt) >= min(policy.lineWaitNanos, policy.maxLineLagNanos)
                {
                    missing[i].lost = true
                }
                i += 1
                continue
            }
            if r.requestedAt != 0 {
                if Clock.elapsed(clock, since: r.requestedAt) < policy.requestTimeoutNanos {
                    inFlight += 1
                    i += 1
                    if onlyFirst { break }
                    continue
                }
                missing[i].requestedAt = 0
                if r.attempts >= policy.maxRetries {
                    missing[i].lost = true
                    i += 1
                    continue
                }
            }
            if inFlight >= policy.maxRequestsInFlight || !requestPacing.take() {
                i += 1
                continue
            }
            requestPiece(at: i, session: key, clock: clock, requester: &requester)
            if unansweredSince == 0 { unansweredSince = max(clock, 1) }
            missing[i].attempts += 1
            inFlight += 1
            i += 1
            if onlyFirst { break }
        }
        releaseHeld(sink: &sink)
    }

    /// Reports every missing range lost and handles what was held (the end of a capture, or stopping: nothing more
    /// can fill them). Packets held apart that nothing confirmed are let go and counted.
    /// - Parameter adoptUnconfirmed: whether a feed that never confirmed its session takes its most persistent
    ///   candidate now (a capture too short to confirm where it starts); a live feed stopping does not.
    public mutating func finish<Sink: TickSink>(now: UInt64, adoptUnconfirmed: Bool = true, sink: inout Sink) {
        if adoptUnconfirmed, session == nil, let best = candidates.best {
            // A capture too short to confirm where it starts: its most persistent session is all there is.
            adopt(best, sink: &sink)
        }
        discardCandidates { _ in true }
        giveUpAll(sink: &sink)
    }

    // MARK: Internals

    /// Keeps a packet that arrived beyond a gap until what lies before it is handled.
    /// - Parameter frontierBefore: the frontier before this packet: what lies between it and the packet's end is
    ///   known only from this packet, and stays missing if the packet cannot be held.
    @usableFromInline
    mutating func hold<Sink: TickSink>(
        packet p: UnsafeRawPointer, length: Int, first: UInt64, count: Int, receiveTime: UInt64, line: Int,
        frontierBefore: UInt64, sink: inout Sink
    ) {
        let end = first &+ UInt64(count)
        if end <= frontierBefore && !missing.overlaps(first: first, end: end) {
            // Nothing in it is missing: a copy of a packet held already (the other line's) or of what was handled.
            counters.duplicatePackets.add()
            counters.duplicateMessages.add(UInt64(count))
            return
        }
        if length > PendingPackets.slotSize {
            // Larger than a slot (a jumbo datagram in a capture): its messages stay missing, for a re-request or a
            // loss report.
            keepMissing(first: first, end: end, frontierBefore: frontierBefore, at: receiveTime)
            return
        }
        if pending.isFull {
            if !storeFull {
                storeFull = true
                events.push(.holdingStoreFull(packets: pending.count, bytes: policy.holdBytes, reRequest: policy.hasServer))
            }
            if policy.hasServer {
                // The server has it: rather than give anything up, this packet's messages stay missing and are
                // re-requested once the store has room again (a reply that could not be kept costs no retry).
                keepMissing(first: first, end: end, frontierBefore: frontierBefore, at: receiveTime)
                if line == LineIndex.recovery { missing.refused(at: first) }
                return
            }
            // Nothing else can fill the oldest gaps: give up what lies before this packet until there is room.
            while pending.isFull, let index = missing.indices.first(where: { !missing[$0].lost }), missing[index].first < first {
                if missing[index].last >= first { missing.split(at: index, after: first - missing[index].first) }
                missing[index].lost = true
                releaseHeld(sink: &sink)
            }
            if first <= _expected {
                if end > _expected {
                    handle(p, count: count, first: first, receiveTime: receiveTime, line: line, sink: &sink)
                    releaseHeld(sink: &sink)
                }
                return
            }
        }
        missing.remove(first: first, end: end, byRecovery: line == LineIndex.recovery, now: receiveTime)
        pending.insert(first: first, count: count, bytes: p, length: length, receiveTime: receiveTime, line: line)
    }

    /// A packet that could not be held: its messages stay missing. Those below the frontier it arrived at already are
    /// (it only filled ranges when held); those beyond it are known only from this packet, and a line that delivered
    /// them will not again: a re-request or a loss report is all that is left.
    mutating func keepMissing(first: UInt64, end: UInt64, frontierBefore: UInt64, at time: UInt64) {
        counters.notHeldPackets.add()
        if end > frontierBefore { missing.append(first: max(first, frontierBefore), last: end - 1, seenAt: time, dropped: true) }
    }

    /// Handles held packets that are now in order, and reports lost ranges the feed has reached.
    @usableFromInline
    mutating func releaseHeld<Sink: TickSink>(sink: inout Sink) {
        while true {
            if let lowest = pending.lowest, lowest <= _expected {
                let entry = pending.removeLowest()!
                if entry.first &+ UInt64(entry.count) > _expected {
                    handle(
                        pending.bytes(entry), count: entry.count, first: entry.first, receiveTime: entry.receiveTime,
                        line: entry.line, sink: &sink)
                } else {
                    counters.duplicatePackets.add()
                    counters.duplicateMessages.add(UInt64(entry.count))
                }
                continue
            }
            if let range = missing.first, range.lost, range.first <= _expected {
                missing.removeFirst()
                // Adjacent lost ranges (pieces of one range asked for apart) are one loss, reported once.
                var last = range.last
                while let next = missing.first, next.lost, next.first == last + 1 {
                    missing.removeFirst()
                    last = next.last
                }
                report(LostRange(first: _expected, last: last), sink: &sink)
                _expected = last + 1
                continue
            }
            break
        }
        if storeFull && pending.count < pending.capacity / 2 { storeFull = false }
    }

    /// Reports a range lost: a gap tick, counters, an event.
    @usableFromInline
    mutating func report<Sink: TickSink>(_ lost: LostRange, sink: inout Sink) {
        counters.lostGaps.add()
        counters.lostMessages.add(lost.count)
        events.push(.lost(lost))
        var tick = Tick(kind: .status)
        tick.statusType = Tick.gapStatusType
        tick.seq = lost.first
        tick.gapFirst = lost.first
        tick.gapLast = lost.last
        tick.receiveTime = streamTime
        counters.ticks.add()
        sink.publish(tick)
    }

    /// Gives up every missing range and handles what was held behind them.
    @usableFromInline
    mutating func giveUpAll<Sink: TickSink>(sink: inout Sink) {
        for i in missing.indices { missing[i].lost = true }
        releaseHeld(sink: &sink)
    }

    /// Asks for the first `requestMessages` of range `i` (the rest splits off, not yet asked for) and marks it asked
    /// for at `clock`.
    mutating func requestPiece<Requester: RecoveryRequester>(
        at i: Int, session key: SessionKey, clock: UInt64, requester: inout Requester
    ) {
        let piece = UInt64(max(1, policy.requestMessages))
        let r = missing[i]
        if r.count > piece { missing.split(at: i, after: piece) }
        requester.request(session: key, first: r.first, count: UInt16(min(r.count, piece)))
        counters.recoveryRequests.add()
        missing[i].requestedAt = max(clock, 1)
    }
}
