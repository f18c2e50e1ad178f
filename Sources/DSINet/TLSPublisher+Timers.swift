import DSICore

/// Deadlines, checked at most every 100 ms from the poll: handshakes and logins that take too long, subscribers
/// gone silent, heartbeats to subscribers that had nothing else.
extension TLSPublisher {
    /// Closes connections whose handshake outlived `handshakeTimeoutNanos`.
    func closeStalledHandshakes() {
        let now = Clock.monotonicNanos()
        guard now &- lastDeadlineCheck >= 100_000_000 else { return }
        lastDeadlineCheck = now
        for session in Array(sessions.values)
        where session.state == .handshaking && now &- session.acceptedAt > options.limits.handshakeTimeoutNanos {
            handshakeTimeouts.add()
            connectionLog.note(
                .handshakeTimeout, .warning,
                "closing \(session.peer): no TLS handshake within \(options.limits.handshakeTimeoutNanos / 1_000_000) ms")
            close(session, reason: nil)
        }
    }

    /// Logins that did not come, subscribers that went silent, heartbeats due.
    func checkTimers() {
        let now = Clock.monotonicNanos()
        guard now &- lastTimerCheck >= 100_000_000 else { return }
        lastTimerCheck = now
        applyPendingReload()
        checkConflating(now: now)
        takeSnapshot(now: now)
        if let journal, now &- lastJournalFlush >= 1_000_000_000 {
            lastJournalFlush = now
            journal.flush()
        }
        let limits = options.subscriberLimits
        for session in Array(sessions.values) {
            switch session.state {
            case .loggingIn where now &- session.establishedAt > limits.loginTimeoutNanos:
                cutOff(session, .loginTimeout, "no login within \(limits.loginTimeoutNanos / 1_000_000) ms of the handshake")
            case .ready where now &- session.lastHeard > limits.silenceTimeoutNanos:
                cutOff(
                    session, .heartbeatTimeout,
                    "nothing received for \(limits.silenceTimeoutNanos / 1_000_000) ms (send heartbeats)")
            case .ready where now &- session.lastSent >= limits.heartbeatNanos && session.queuedBytes == 0:
                send(.heartbeat(lastStreamSeq: lastStreamSeq, time: Clock.realtimeNanos()), to: session)
            default:
                break
            }
        }
    }
}
