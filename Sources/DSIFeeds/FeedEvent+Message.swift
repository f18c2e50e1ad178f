/// The log line for each feed event: what happened, where, and what it means for the data (docs/operations.md).
extension FeedEvent {
    /// How loud the event is: `warning` for anything that drops, holds back or loses data, `notice` otherwise.
    public var isWarning: Bool {
        switch self {
        case .joined, .sessionChanged, .jumpConfirmed, .endOfSession: false
        case .foreignSession, .implausibleSequence, .discarded, .lost, .holdingStoreFull, .beyondEnd: true
        }
    }

    /// A rate-limiting class: events of one kind share a budget of log lines, and what is held back is summarised
    /// by its name.
    public enum Kind: Int, CaseIterable, Sendable {
        case joined, sessionChanged, foreignSession, implausibleSequence, jumpConfirmed, discarded, lost
        case holdingStoreFull, endOfSession, beyondEnd

        /// The events of this kind, in a line that counts them ("12 more ... were not logged").
        public var name: String {
            switch self {
            case .joined: "joins"
            case .sessionChanged: "session changes"
            case .foreignSession: "packets of other sessions held apart"
            case .implausibleSequence: "packets implausibly far ahead quarantined"
            case .jumpConfirmed: "confirmed jumps"
            case .discarded: "let-go runs of unconfirmed packets"
            case .lost: "lost ranges"
            case .holdingStoreFull: "full holding stores"
            case .endOfSession: "ends of session"
            case .beyondEnd: "packets beyond the session's end"
            }
        }
    }

    public var kind: Kind {
        switch self {
        case .joined: .joined
        case .sessionChanged: .sessionChanged
        case .foreignSession: .foreignSession
        case .implausibleSequence: .implausibleSequence
        case .jumpConfirmed: .jumpConfirmed
        case .discarded: .discarded
        case .lost: .lost
        case .holdingStoreFull: .holdingStoreFull
        case .endOfSession: .endOfSession
        case .beyondEnd: .beyondEnd
        }
    }

    /// The event as one line for feed `feed`; `counters` gives the running totals some lines quote.
    public func message(feed: String, counters: FeedCounters) -> String {
        switch self {
        case .joined(let session, let start, let firstSeen, let policy):
            var line = "feed \(feed): joined session \(session) at sequence \(start)"
            switch policy {
            case .first where start > 1: line += "; messages before it are not claimed lost (join: first)"
            case .first: break
            case .recover where firstSeen > start:
                line += "; messages \(start)...\(firstSeen - 1), before the first packet seen, are re-requested (join: recover)"
            case .recover: break
            case .sequence:
                line += " (join: \(start)); earlier messages are skipped"
                if firstSeen > start { line += ", \(start)...\(firstSeen - 1) are re-requested" }
            }
            return line
        case .sessionChanged(let old, let new, let sequence, let reason):
            return "feed \(feed): session \(new) believed from sequence \(sequence) (\(reason)); session \(old) is over"
        case .foreignSession(let session, let sequence, let current):
            let following = current.map { "the feed follows session \($0)" } ?? "the feed is pinned to another session"
            return """
                feed \(feed): a packet of session \(session) (sequence \(sequence)) is held apart: \(following); \
                foreignSessionPackets counts what is let go (\(counters.foreignSessionPackets.load) so far)
                """
        case .implausibleSequence(let sequence, let frontier):
            return """
                feed \(feed): a packet at sequence \(sequence) is too far beyond the highest seen (\(frontier - 1)) to be \
                believed; quarantined until the lines confirm it (implausiblePackets counts what is let go)
                """
        case .jumpConfirmed(let from, let to):
            return "feed \(feed): the lines confirmed a jump in sequence from \(from) to \(to); the range between is missing"
        case .discarded(let session, let packets, let foreign):
            let counter = foreign ? "foreignSessionPackets" : "implausiblePackets"
            return "feed \(feed): let go of \(packets) packet(s) of session \(session) that nothing confirmed (\(counter))"
        case .lost(let lost):
            return """
                feed \(feed): messages \(lost.first)...\(lost.last) (\(lost.count)) lost: no line and no re-request \
                delivered them; total lost \(counters.lostMessages.load) in \(counters.lostGaps.load) ranges
                """
        case .holdingStoreFull(let packets, let bytes, let reRequest):
            let then =
                reRequest
                ? "packets beyond the oldest gaps are not held and will be re-requested once there is room"
                : "the oldest gap is given up early to make room (no re-request server)"
            return "feed \(feed): holding store full (\(packets) packets, \(bytes) bytes): \(then); raise holdBytes if it recurs"
        case .endOfSession(let sequence):
            return "feed \(feed): the session announced its end after sequence \(sequence - 1)"
        case .beyondEnd(let sequence, let end):
            return "feed \(feed): dropped a packet at sequence \(sequence), beyond the session's announced end (\(end - 1))"
        }
    }
}
