import DSICore

/// Sessions and trust: joining the first session, believing a new one, quarantining implausible jumps.
extension SequencedFeed {
    /// A packet whose session is not the one followed (or the first packets, before one is).
    @usableFromInline
    mutating func otherSession<Sink: TickSink>(
        packet p: UnsafeRawPointer, length: Int, first: UInt64, count: Int, key: SessionKey, receiveTime: UInt64,
        line: Int, sink: inout Sink
    ) {
        if let pinned = policy.pinnedSession, key != pinned {
            // The operator named the session: nothing else is ever believed.
            counters.foreignSessionPackets.add()
            events.push(.foreignSession(session: key, sequence: first, current: session))
            return
        }
        if retiredSessions.contains(key) {
            counters.staleSessionPackets.add()
            return
        }
        consider(
            packet: p, length: length, first: first, count: count, key: key, receiveTime: receiveTime, line: line,
            sink: &sink)
    }

    /// Adds a packet to the candidate run it continues (or a new one), and believes the run once it is confirmed.
    /// Packets of the followed session come here when they start implausibly far ahead of its frontier.
    @usableFromInline
    mutating func consider<Sink: TickSink>(
        packet p: UnsafeRawPointer, length: Int, first: UInt64, count: Int, key: SessionKey, receiveTime: UInt64,
        line: Int, sink: inout Sink
    ) {
        var index: Int
        if let found = candidates.matching(key, first: first, time: receiveTime, policy: policy) {
            index = found
        } else {
            let (started, evicted) = candidates.start(session: key, first: first, time: receiveTime)
            index = started
            if let evicted { discard(evicted) }
            if let current = session {
                events.push(
                    key == current
                        ? .implausibleSequence(sequence: first, frontier: frontier)
                        : .foreignSession(session: key, sequence: first, current: current))
            }
        }
        let dropped = candidates.add(
            to: index, bytes: p, length: length, first: first, count: count, time: receiveTime,
            line: line)
        if dropped > 0 { countDiscarded(key, packets: dropped) }
        if isConfirmed(candidates.list[index]) { adopt(index, sink: &sink) }
    }

    /// Whether a candidate run has earned belief: `confirmPackets` packets in a row, each carrying it further, with
    /// no sign of life from the session followed (the first session too: a stray that arrives first is not taken
    /// for the day). The session the operator pinned needs no confirmation.
    func isConfirmed(_ c: SessionCandidates.Candidate) -> Bool {
        c.streak >= policy.confirmPackets || (session == nil && c.session == policy.pinnedSession)
    }

    /// Believes candidate `index`: joins its session, changes to it, or takes its jump; then handles its packets.
    @usableFromInline
    mutating func adopt<Sink: TickSink>(_ index: Int, sink: inout Sink) {
        let c = candidates.remove(at: index)
        let held = candidates.heldPackets(of: c)
        if session == nil {
            join(c, sink: &sink)
        } else if c.session == session {
            events.push(.jumpConfirmed(from: frontier, to: c.frontier))
        } else {
            changeSession(to: c, sink: &sink)
        }
        lastBelieved = max(lastBelieved, c.firstSeen)
        lines.begin(at: c.firstSeen, expected: policy.lines)
        // Its packets, lowest first, as believed ones: the gap before them opens like any other.
        while let entry = held.removeLowest() {
            believe(
                packet: held.bytes(entry), length: entry.length, first: entry.first, count: entry.count, isEnd: false,
                receiveTime: entry.receiveTime, line: entry.line, sink: &sink)
        }
        // Heartbeats of the run may have announced more than its packets carried; never past the session's end.
        let announced = min(c.frontier, _endSequence ?? .max)
        if announced > frontier {
            open(first: frontier, last: announced - 1, at: c.lastSeen)
            frontier = announced
        }
    }

    /// The first session: start where the join policy says.
    mutating func join<Sink: TickSink>(_ c: SessionCandidates.Candidate, sink: inout Sink) {
        session = c.session
        consumer.sessionBegins(c.session.description, isFirst: true)
        let start: UInt64
        switch policy.join {
        // A first packet this close to the session's start means the handler started before the session and lost
        // its first packets, not that it joined late: they are recovered or reported like any gap.
        case .first: start = c.low <= policy.sequenceSlack ? 1 : c.low
        case .recover: start = 1
        case .sequence(let n): start = n
        }
        _expected = start
        frontier = start
        joinedAt = start
        // Runs that grew while there was no session to show life had no rival: from now on they have one.
        candidates.currentShowedLife()
        events.push(.joined(session: c.session, start: start, firstSeen: c.low, policy: policy.join))
        if start > 1 {
            // Subscribers learn that the stream does not begin at the session's start.
            var tick = Tick(kind: .status)
            tick.statusType = Tick.joinStatusType
            tick.seq = start
            tick.gapFirst = start
            tick.receiveTime = c.firstSeen
            counters.ticks.add()
            sink.publish(tick)
        }
    }

    /// A new session (a new day): what the old one still waits for is reported lost (never dropped silently), the
    /// old session is retired, and sequence numbers and books start afresh from 1.
    mutating func changeSession<Sink: TickSink>(to c: SessionCandidates.Candidate, sink: inout Sink) {
        let old = session!
        let reason: SessionChangeReason = sessionEnded ? .ended : .persisted
        giveUpAll(sink: &sink)
        counters.sessionChanges.add()
        retiredSessions.append(old)
        if retiredSessions.count > 8 { retiredSessions.removeFirst() }
        events.push(.sessionChanged(old: old, new: c.session, sequence: c.low, reason: reason))
        session = c.session
        _expected = 1
        frontier = 1
        missing.removeAll()
        lines.reset()
        _endSequence = nil
        pendingAnnouncement = nil
        // Quarantined packets of the old session are of no use now.
        discardCandidates { $0.session == old }
        consumer.sessionBegins(c.session.description, isFirst: false)
    }

    /// Lets go of candidates nothing confirmed for `quarantineNanos`.
    mutating func expireCandidates<Sink: TickSink>(clock: UInt64, sink: inout Sink) {
        let cutoff = clock > policy.quarantineNanos ? clock - policy.quarantineNanos : 0
        discardCandidates { $0.lastSeen < cutoff }
    }

    /// Lets go of every candidate `shouldDiscard` picks, counting their packets.
    mutating func discardCandidates(where shouldDiscard: (SessionCandidates.Candidate) -> Bool) {
        for i in candidates.list.indices.reversed() where shouldDiscard(candidates.list[i]) {
            discard(candidates.remove(at: i))
        }
    }

    /// Lets go of a removed candidate's packets, counting them.
    mutating func discard(_ c: SessionCandidates.Candidate) {
        candidates.clear(c)
        countDiscarded(c.session, packets: c.packets)
        events.push(.discarded(session: c.session, packets: c.packets, foreign: c.session != session))
    }

    mutating func countDiscarded(_ key: SessionKey, packets: Int) {
        if key == session {
            counters.implausiblePackets.add(UInt64(packets))
        } else {
            counters.foreignSessionPackets.add(UInt64(packets))
        }
    }
}
