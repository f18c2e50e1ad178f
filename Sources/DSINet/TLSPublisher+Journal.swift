import DSICore

/// The journal side of the publisher: what it restores at start, appends per tick, and replays to subscribers that
/// resume.
extension TLSPublisher {
    /// Where the journal goes and how long it is kept.
    public struct JournalOptions: Sendable {
        public var directory: String
        /// Days of journals kept (today's included); older ones are removed at start.
        public var retentionDays = 5
        /// Bytes the file grows by at a time (each a separate mapping).
        public var segmentBytes = 64 << 20
        /// The stream's day; nil: today (UTC).
        public var day: UInt32? = nil

        public init(directory: String) { self.directory = directory }
    }

    /// After a restart, the ticks the restarted pipeline makes again for messages whose ticks the journal already
    /// holds (a `join: recover` rebuilds the books from the session's start): dropped until the first message past
    /// the journal's last.
    struct Suppression {
        /// The last message the journal holds ticks for, and how many of its ticks it holds.
        var through: UInt64
        var ticksAtLast: Int
        var seenAtLast = 0
    }

    /// The message a tick stands at, for suppression: a gap's last lost message, else the message that caused it.
    static func position(of tick: Tick) -> UInt64 {
        tick.kind == .status && tick.statusType == Tick.gapStatusType ? tick.gapLast : tick.seq
    }

    /// Opens the day's journal, restores the stream's numbering, topics and images from it, and prunes old days.
    func openJournal(_ journalOptions: JournalOptions) throws {
        let day = journalOptions.day ?? Journal.today()
        for removed in try Journal.prune(directory: journalOptions.directory, keep: journalOptions.retentionDays, today: day) {
            logger.notice("journal: removed \(removed) (older than the \(journalOptions.retentionDays) days kept)")
        }
        var last: UInt64 = 0
        var atLast = 0
        let journal = try Journal(directory: journalOptions.directory, day: day, segmentBytes: journalOptions.segmentBytes) {
            tick in
            topics.restore(tick)
            images.record(tick)
            let position = Self.position(of: tick)
            if position == last { atLast += 1 } else if position > last { (last, atLast) = (position, 1) }
        }
        self.journal = journal
        lastStreamSeq = journal.count
        streamDay = journal.day
        if let damage = journal.damage {
            journalDamaged.set(1)
            logger.error("journal \(journal.path) \(damage)")
        }
        if journal.count > 0 {
            suppression = Suppression(through: last, ticksAtLast: atLast)
            logger.notice(
                """
                journal \(journal.path): \(journal.count) ticks of day \(day) restored; the stream continues at \
                \(journal.count + 1); ticks for messages up to \(last) are not published again
                """)
        }
    }

    /// Whether `tick` was already published before a restart (and is dropped).
    func alreadyPublished(_ tick: Tick) -> Bool {
        guard var s = suppression else { return false }
        if tick.kind == .status && tick.statusType == Tick.joinStatusType {
            // A join where the journal ends (or before) continues the stream; a later one reports a real hole.
            if tick.gapFirst <= s.through + 1 {
                ticksSuppressed.add()
                return true
            }
            return finishSuppression()
        }
        let position = Self.position(of: tick)
        if position < s.through || (position == s.through && s.seenAtLast < s.ticksAtLast) {
            if position == s.through { s.seenAtLast += 1 }
            suppression = s
            ticksSuppressed.add()
            return true
        }
        return finishSuppression()
    }

    private func finishSuppression() -> Bool {
        if let s = suppression {
            logger.notice(
                "publishing resumed after message \(s.through): \(ticksSuppressed.load) ticks made again since the restart were already journaled"
            )
        }
        suppression = nil
        return false
    }

    /// Journals a numbered tick; a journal that cannot take it (a full disk) is given up, loudly: the live stream
    /// goes on, and resumes past this point get images instead.
    func journalAppend(_ tick: Tick) {
        guard let journal else { return }
        do {
            try journal.append(tick)
        } catch {
            logger.error(
                "journal \(journal.path): \(error); no longer journaling (resumes after stream sequence \(journal.count) get images)"
            )
            journalFailed.set(1)
            self.journal = nil
        }
    }

    /// Sends the sessions that resume the journal's ticks after their resume point, a bounded amount per poll and
    /// only while their queue is short, until they reach the live stream and join it.
    /// - Returns: the journal records read.
    func serveCatchUps() -> Int {
        guard !catchingUp.isEmpty else { return 0 }
        var work = 0
        let chunk = min(256 << 10, options.maxQueuedBytes / 4)
        for session in catchingUp {
            guard session.state == .ready, var next = session.catchUpNext else { continue }
            if session.queuedBytes > options.maxQueuedBytes / 2 { continue }  // let it read what it has first
            var bytes: [UInt8] = []
            var sent: UInt64 = 0
            if let journal {
                while next <= min(lastStreamSeq, journal.count) && bytes.count < chunk && work < 65_536 {
                    let tick = journal.tick(next)
                    next += 1
                    work += 1
                    if session.selection.admits(tick) {
                        TickFrames.append(tick, as: session.encoding, to: &bytes)
                        sent += 1
                    }
                }
            }
            session.ticksSent += sent
            catchUpTicksSent.add(sent)
            send(bytes: bytes, to: session)
            if next > lastStreamSeq || journal == nil {
                // Caught up: from the next batch on, the live stream (nothing falls between: this thread numbers).
                session.catchUpNext = nil
                index.update(session, from: TickSelection())
                connectionLog.note(.request, .info, "subscriber \(session.peer) caught up at stream sequence \(lastStreamSeq)")
            } else {
                session.catchUpNext = next
            }
        }
        catchingUp.removeAll { $0.catchUpNext == nil || $0.state == .closing }
        return work
    }
}
