import DSICore

/// Subscriptions: what each session takes, changed by its requests, and the images a new subscription starts with.
extension TLSPublisher {
    func subscribe(_ session: TLSSession, request: UInt32, kinds: TickSelection.Kinds, symbols: [UInt64]?) {
        guard let old = change(session, request: request, kinds: kinds, symbols: symbols, adding: true) else { return }
        if let next = session.catchUpNext {
            // Resuming: the addition applies to the journal's ticks from where the replay stands (no images: they
            // would describe a later moment than the ticks still to come).
            send(.subscribed(.init(request: request, firstStreamSeq: next, images: 0, flags: 0)), to: session)
            return
        }
        // The market's image goes with the first subscription (the stream reports' topics), and whenever status
        // ticks are newly taken (market-wide status).
        let market = old.isEmpty || (kinds.contains(.status) && !old.takesStatus)
        startStream(session, request: request, images: images.entries(symbols: symbols, kinds: kinds, market: market))
    }

    func unsubscribe(_ session: TLSSession, request: UInt32, kinds: TickSelection.Kinds, symbols: [UInt64]?) {
        guard change(session, request: request, kinds: kinds, symbols: symbols, adding: false) != nil else { return }
        let first = session.catchUpNext ?? lastStreamSeq + 1
        send(.subscribed(.init(request: request, firstStreamSeq: first, images: 0, flags: 0)), to: session)
    }

    /// A first subscription that starts after stream sequence `after`: the rest of the stream from the journal when
    /// it still holds it, else images and the live stream (the subscribed frame says which).
    func resume(
        _ session: TLSSession, request: UInt32, after: UInt64, kinds: TickSelection.Kinds, symbols: [UInt64]?
    ) {
        guard !session.hasSubscribed else {
            return refuse(session, .resumeNotFirst, request: request, "a resume must be the first subscription")
        }
        guard after <= lastStreamSeq else {
            return refuse(
                session, .resumeUnavailable, request: request,
                "sequence \(after) is ahead of the stream (the last published is \(lastStreamSeq))")
        }
        if journal != nil && after + 1 >= firstRetained && after < lastStreamSeq {
            // The journal has the rest: replay it, then join the live stream (serveCatchUps).
            session.catchUpNext = after + 1
            guard change(session, request: request, kinds: kinds, symbols: symbols, adding: true) != nil else {
                session.catchUpNext = nil
                return
            }
            catchingUp.append(session)
            send(
                .subscribed(
                    .init(request: request, firstStreamSeq: after + 1, images: 0, flags: PublishProtocol.SubscribedFlags.resumed)),
                to: session)
            return
        }
        guard change(session, request: request, kinds: kinds, symbols: symbols, adding: true) != nil else { return }
        if after == lastStreamSeq {
            send(
                .subscribed(
                    .init(
                        request: request, firstStreamSeq: lastStreamSeq + 1, images: 0,
                        flags: PublishProtocol.SubscribedFlags.resumed)), to: session)
            return
        }
        // Nothing older than the live stream is retained: the images stand in for what was missed.
        startStream(
            session, request: request, images: images.entries(symbols: symbols, kinds: kinds, market: true),
            flags: PublishProtocol.SubscribedFlags.imagesInsteadOfResume)
    }

    /// Applies a request to the session's selection and the index; refuses it (and returns nil) when it asks for no
    /// kinds or would hold too many symbols.
    /// - Returns: the selection before the change.
    func change(
        _ session: TLSSession, request: UInt32, kinds: TickSelection.Kinds, symbols: [UInt64]?, adding: Bool
    ) -> TickSelection? {
        guard !kinds.isEmpty else {
            refuse(session, .emptySubscription, request: request, "a request must name at least one kind")
            return nil
        }
        var next = session.selection
        if adding, let entitlement = session.entitlement {
            // Only what the certificate allows; the refusal names only what the client itself asked for.
            guard let grant = entitlement.granted(kinds, symbols: symbols) else {
                refuse(
                    session, .notEntitled, request: request,
                    "not entitled to \(kinds.names.joined(separator: ",")) of \(symbols.map { $0.map { Symbol(raw: $0).description }.joined(separator: ",") } ?? "every symbol")"
                )
                return nil
            }
            next.add(grant)
        } else if adding {
            next.add(kinds, symbols: symbols)
        } else {
            next.remove(kinds, symbols: symbols)
        }
        let limit = options.subscriberLimits.maxSymbols
        guard next.symbols.count <= limit else {
            refuse(
                session, .tooManySymbols, request: request,
                "the request would hold \(next.symbols.count) symbols; a subscriber may hold \(limit)")
            return nil
        }
        requestsTaken.add()
        let old = session.selection
        session.selection = next
        session.hasSubscribed = true
        // A resuming session joins the index when it reaches the live stream.
        if session.catchUpNext == nil { index.update(session, from: old) }
        return old
    }

    /// Acknowledges a subscription and sends its images; the live ticks after `lastStreamSeq` follow.
    func startStream(_ session: TLSSession, request: UInt32, images entries: [Tick], flags: UInt8 = 0) {
        send(
            .subscribed(
                .init(
                    request: request, firstStreamSeq: lastStreamSeq + 1, images: UInt32(entries.count), flags: flags)),
            to: session)
        var bytes: [UInt8] = []
        for tick in entries {
            TickFrames.append(tick, as: session.encoding, to: &bytes)
            if bytes.count >= 32 << 10 {
                send(bytes: bytes, to: session)
                bytes.removeAll(keepingCapacity: true)
            }
        }
        send(bytes: bytes, to: session)
        imageTicksSent.add(UInt64(entries.count))
    }
}
