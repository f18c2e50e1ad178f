import DSICore

/// Slow consumers under the `conflate` policy: a subscriber more than half its backlog behind stops receiving quotes
/// (each symbol's latest is held, marked conflated) while trades, trade breaks, status and gap ticks still go out;
/// once it has caught up to a quarter, the held quotes follow. Behind for longer than the grace period, or four
/// times the backlog behind, it is disconnected: memory stays bounded and the others are never slowed.
extension TLSPublisher {
    /// What the publisher does with a subscriber that falls behind.
    public enum SlowConsumerPolicy: String, Sendable, CaseIterable, Codable {
        /// Cut it off once `maxQueuedBytes` behind.
        case disconnect
        /// Keep every trade, status and gap tick; keep only the latest quote per symbol while behind; disconnect
        /// after the grace period.
        case conflate
    }

    /// Whether `tick` is held back from `session` (a quote while it is behind), replacing what was held.
    @inline(__always)
    func conflates(_ tick: Tick, for session: TLSSession) -> Bool {
        guard session.conflating, tick.kind == .quote else { return false }
        let topic = Topic.index(of: tick)
        var held = tick
        if session.heldQuotes[topic] != nil {
            held.flags |= Tick.Flags.conflated  // it stands for the quotes it replaced
            session.quotesConflated += 1
            quotesConflated.add()
        }
        session.heldQuotes[topic] = held
        return true
    }

    /// A session's backlog grew (`queue`): under `conflate`, it starts conflating at half the backlog limit; beyond
    /// four times the limit it is cut off. Returns false when it was cut off.
    func noteBacklog(_ session: TLSSession, adding count: Int) -> Bool {
        let limit = options.maxQueuedBytes
        let backlog = session.queuedBytes + count
        switch options.slowConsumer {
        case .disconnect where backlog > limit, .conflate where backlog > 4 * limit:
            slowConsumerDisconnects.add()
            connectionLog.note(.slowConsumer, .warning, "slow consumer \(session.peer): \(backlog) bytes behind, disconnecting")
            close(session, reason: "slow consumer: more than \(limit) bytes behind", code: .slowConsumer)
            return false
        case .conflate where backlog > limit / 2 && !session.conflating:
            session.conflating = true
            session.behindSince = Clock.monotonicNanos()
            conflatingSessions.append(session)
            connectionLog.note(
                .slowConsumer, .info, "slow consumer \(session.peer): \(backlog) bytes behind, conflating its quotes")
        default:
            break
        }
        return true
    }

    /// Sessions that caught up get their held quotes (in stream order) and full updates again; those behind for
    /// longer than the grace period are cut off.
    func checkConflating(now: UInt64) {
        guard !conflatingSessions.isEmpty else { return }
        for session in conflatingSessions where session.state == .ready {
            if session.queuedBytes <= options.maxQueuedBytes / 4 {
                var bytes: [UInt8] = []
                for tick in session.heldQuotes.values.sorted(by: { $0.streamSeq < $1.streamSeq }) {
                    TickFrames.append(tick, as: session.encoding, to: &bytes)
                }
                session.heldQuotes.removeAll(keepingCapacity: true)
                session.conflating = false
                send(bytes: bytes, to: session)
            } else if now &- session.behindSince > options.conflateGraceNanos {
                slowConsumerDisconnects.add()
                connectionLog.note(
                    .slowConsumer, .warning,
                    "slow consumer \(session.peer): behind for \(options.conflateGraceNanos / 1_000_000) ms, disconnecting")
                close(session, reason: "slow consumer: behind for longer than the grace period", code: .slowConsumer)
            }
        }
        conflatingSessions.removeAll { !$0.conflating || $0.state == .closing }
    }
}
