import DSICore

/// Reloading certificates, entitlements and the slow-consumer policy while running (SIGHUP or `dsi ctl reload`): new
/// connections use the new certificate and client CA; every logged-in subscriber is held to the new entitlements at
/// once (narrowed, or dropped when nothing is left), and one still entitled to what it takes is not disturbed; the
/// slow-consumer limits apply from the next check of each subscriber's backlog.
extension TLSPublisher {
    public struct Reload: Sendable {
        public var certificate: String
        public var key: String
        public var clientCA: String?
        public var entitlements: Entitlements?
        /// The slow-consumer settings; nil keeps the running ones.
        public var slowConsumer: SlowConsumerPolicy? = nil
        public var maxQueuedBytes: Int? = nil
        public var conflateGraceNanos: UInt64? = nil

        public init(certificate: String, key: String, clientCA: String?, entitlements: Entitlements?) {
            self.certificate = certificate
            self.key = key
            self.clientCA = clientCA
            self.entitlements = entitlements
        }
    }

    /// Checks the new files now (on the caller's thread, so a bad file is reported to it and nothing changes), then
    /// hands the reload to the polling thread. Any thread may call it.
    public func requestReload(_ reload: Reload) throws {
        _ = try TLSContext.server(certificate: reload.certificate, key: reload.key, clientCA: reload.clientCA)
        pendingReload.withLock { $0 = reload }
    }

    /// Applies a pending reload (from the poll).
    func applyPendingReload() {
        guard
            let reload = pendingReload.withLock({ r -> Reload? in
                defer { r = nil }
                return r
            })
        else { return }
        do {
            context = try TLSContext.server(certificate: reload.certificate, key: reload.key, clientCA: reload.clientCA)
        } catch {
            logger.error("reload: \(error); keeping the certificates in use")
            return
        }
        entitlements = reload.entitlements
        if let policy = reload.slowConsumer { options.slowConsumer = policy }
        if let bytes = reload.maxQueuedBytes { options.maxQueuedBytes = bytes }
        if let nanos = reload.conflateGraceNanos { options.conflateGraceNanos = nanos }
        var narrowed = 0, dropped = 0
        for session in Array(sessions.values) where session.state == .ready {
            guard let entitlements, let identity = session.identity else {
                session.entitlement = nil
                continue
            }
            guard let allowed = entitlements.allowed(for: identity) else {
                dropped += 1
                cutOff(session, .notEntitled, "after a reload, certificate \(identity.description) is not entitled to any ticks")
                continue
            }
            session.entitlement = allowed
            let kept = session.selection.restricted(to: allowed)
            guard kept != session.selection else { continue }
            narrowed += 1
            let old = session.selection
            session.selection = kept
            if session.catchUpNext == nil { index.update(session, from: old) }
            send(
                .error(.notEntitled, "after a reload, the subscription was narrowed to what this certificate is entitled to"),
                to: session)
        }
        logger.notice(
            "reload: certificate \(reload.certificate), client CA \(reload.clientCA ?? "none"), \(reload.entitlements?.entries.count ?? 0) entitlements, slow consumers \(options.slowConsumer.rawValue) at \(options.maxQueuedBytes) bytes; \(narrowed) subscribers narrowed, \(dropped) dropped"
        )
    }
}
