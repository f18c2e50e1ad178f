import DSICore

/// Who wants which ticks: the publisher's index from a tick to the sessions that take it, so that sending a tick
/// costs O(sessions interested in it), not O(sessions).
struct SubscriptionIndex {
    /// A session and the kinds it takes (for every symbol, or for one symbol).
    struct Interest {
        let session: TLSSession
        var kinds: TickSelection.Kinds
    }

    /// Sessions taking some kinds of every symbol.
    private(set) var everySymbol: [Interest] = []
    /// Sessions naming a symbol (raw alpha8), with the kinds they take beyond their every-symbol kinds.
    private(set) var bySymbol: [UInt64: [Interest]] = [:]
    /// Sessions with any subscription: what market-wide status and stream reports go to.
    private(set) var active: [TLSSession] = []
    /// Sessions that take every tick in the binary form: they get each batch's frames whole, with no per-tick work
    /// (and are in no other list).
    private(set) var firehose: [TLSSession] = []

    /// Moves `session` from the entries of `old` to those of its current selection.
    /// - Complexity: O(symbols changed × sessions naming each).
    mutating func update(_ session: TLSSession, from old: TickSelection) {
        let id = ObjectIdentifier(session)
        let becomesFirehose = session.selection == .all && session.encoding == .binary
        // What the lists hold for it now: nothing when it was in the firehose, else `old`.
        let listed = session.isFirehose ? TickSelection() : old
        if session.isFirehose {
            firehose.removeAll { ObjectIdentifier($0) == id }
            session.isFirehose = false
        }
        relist(session, from: listed, to: becomesFirehose ? TickSelection() : session.selection)
        if becomesFirehose {
            session.isFirehose = true
            firehose.append(session)
        }
    }

    private mutating func relist(_ session: TLSSession, from old: TickSelection, to new: TickSelection) {
        let id = ObjectIdentifier(session)
        if old.everySymbol != new.everySymbol {
            everySymbol.removeAll { ObjectIdentifier($0.session) == id }
            if !new.everySymbol.isEmpty { everySymbol.append(Interest(session: session, kinds: new.everySymbol)) }
        }
        for symbol in Set(old.symbols.keys).union(new.symbols.keys) where old.symbols[symbol] != new.symbols[symbol] {
            var list = bySymbol[symbol] ?? []
            list.removeAll { ObjectIdentifier($0.session) == id }
            if let kinds = new.symbols[symbol] { list.append(Interest(session: session, kinds: kinds)) }
            bySymbol[symbol] = list.isEmpty ? nil : list
        }
        if old.isEmpty != new.isEmpty {
            if new.isEmpty { active.removeAll { ObjectIdentifier($0) == id } } else { active.append(session) }
        }
    }

    /// Forgets `session` (closed).
    mutating func remove(_ session: TLSSession) {
        let old = session.selection
        session.selection = TickSelection()
        update(session, from: old)
    }

    /// Whether any session takes ticks tick by tick (not only whole batches, as the firehose does).
    var hasSelective: Bool { !active.isEmpty }

    /// Calls `deliver` once for each session that takes `tick`.
    @inline(__always)
    func forEachTaker(of tick: Tick, _ deliver: (TLSSession) -> Void) {
        if tick.stockLocate == 0 && tick.kind == .status || tick.isIntegrityReport {
            for session in active where session.selection.admits(tick) { deliver(session) }
            return
        }
        let kind = TickSelection.Kinds(tick.kind)
        for interest in everySymbol where interest.kinds.contains(kind) { deliver(interest.session) }
        guard let named = bySymbol[tick.stock.raw] else { return }
        for interest in named where interest.kinds.contains(kind) {
            // Already sent through its every-symbol kinds.
            if interest.session.selection.everySymbol.contains(kind) { continue }
            deliver(interest.session)
        }
    }
}
