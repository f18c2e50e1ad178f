import DSICore
import DSIFeeds
import DSINet
import Foundation

/// Live reconfiguration (SIGHUP, `dsi ctl reload`): the new configuration is checked whole, what cannot change while
/// running is named and refused with the running configuration kept, and the rest is applied without stopping a
/// worker: filters, publish nodes added and removed, certificates, client CA, entitlements, slow-consumer settings.
///
/// Each change reaches the thread that owns what it changes through that worker's mailbox, in an order that loses
/// nothing: a new publisher is polled before any tick is routed to it; a removed one is drained after its feed stopped
/// writing to it. Branches that stay keep their ring, their publisher and their subscribers untouched, so their
/// streams go on without a gap or a repeat.
extension FeedHandler {
    /// What a reload did, for the log and `dsi ctl reload`.
    public struct ReloadOutcome: Sendable, CustomStringConvertible {
        public var added: [String] = []
        public var removed: [String] = []
        public var refiltered: [String] = []
        public var publisherSettings = ""
        public var description: String {
            var parts: [String] = []
            if !added.isEmpty { parts.append("publish nodes added: \(added.joined(separator: ", "))") }
            if !removed.isEmpty { parts.append("publish nodes removed: \(removed.joined(separator: ", "))") }
            if !refiltered.isEmpty { parts.append("filters changed on: \(refiltered.joined(separator: ", "))") }
            parts.append(publisherSettings)
            return parts.joined(separator: "; ")
        }
    }

    /// Applies `new` to the running handler, or throws naming the first thing that cannot change live (nothing is
    /// changed then).
    @discardableResult
    public func reload(_ new: ValidatedConfig) throws -> ReloadOutcome {
        reloadLock.lock()
        defer { reloadLock.unlock() }
        let old = config
        try Self.refuseWhatCannotChange(from: old, to: new)
        let (certificate, key) = try CertificateStore.resolve(config: new, logger: logger)
        // The new files are read now: a bad one is refused before anything changes.
        _ = try TLSContext.server(certificate: certificate, key: key, clientCA: new.clientCA)

        let current = branches
        let names = Set(current.map(\.layout.publish))
        let newNames = Set(new.graph.branches.map(\.publish))
        var outcome = ReloadOutcome()
        // Publishers the reload adds bind now: a port in use refuses the reload before anything changed.
        var added: [Branch] = []
        do {
            for layout in new.graph.branches where !names.contains(layout.publish) {
                added.append(
                    try Self.makeBranch(layout, config: new, certificate: certificate, key: key, stamps: nil, logger: logger))
            }
        } catch {
            for branch in added { branch.publisher.finish(ring: branch.rings[0].ring) }
            throw error
        }
        let kept = current.filter { newNames.contains($0.layout.publish) }.map { branch in
            // Same ring and publisher; the new layout's filters.
            Branch(
                layout: new.graph.branch(branch.layout.publish)!, publisher: branch.publisher, rings: branch.rings,
                consumerGone: branch.consumerGone, publisherFiltered: branch.publisherFiltered, latency: branch.latency)
        }
        let removed = current.filter { !newNames.contains($0.layout.publish) }
        // In graph order, as a restart with `new` would number them.
        let next = new.graph.branches.map { layout in
            (kept + added).first { $0.layout.publish == layout.publish }!
        }

        var reload = TLSPublisher.Reload(
            certificate: certificate, key: key, clientCA: new.clientCA, entitlements: new.entitlements)
        reload.slowConsumer = new.slowConsumer
        reload.maxQueuedBytes = new.maxQueuedBytes
        reload.conflateGraceNanos = new.conflateGraceNanos
        for branch in kept { try branch.publisher.requestReload(reload) }
        outcome.publisherSettings =
            "certificate \(certificate), client CA \(new.clientCA ?? "none"), \(new.entitlements?.entries.count ?? 0) entitlements, slow consumers \(new.slowConsumer.rawValue) at \(new.maxQueuedBytes) bytes"

        // 1. New publishers are polled on their workers.
        for branch in added {
            let worker = workerConfig(of: branch.layout, in: new).name
            workers.first { $0.worker.name == worker }?.mailbox.consumes(branch.consumerGone)
            try post(.addPublisher(publishing(branch)), to: worker)
            outcome.added.append(branch.layout.publish)
        }
        // 2. Each feed writes to its new set of branches, with the new filters.
        for (f, feed) in feeds.enumerated() {
            let sinks = routes(of: f, new, next, reuse: feed.sinks)
            try post(.route(feed: f, branches: sinks), to: new.graph.feedWorkers[f].name)
            // What a removed branch counted stays in the totals.
            for sink in feed.sinks where !sinks.contains(where: { $0.inner.ring === sink.inner.ring }) {
                retiredDropped.wrappingIncrement(by: sink.inner.dropped.load, ordering: .relaxed)
                retiredFiltered.wrappingIncrement(by: sink.filtered.load, ordering: .relaxed)
            }
            feed.sinks = sinks
        }
        // 3. Filters on the publishers' workers.
        for branch in kept {
            let before = current.first { $0.layout.publish == branch.layout.publish }!.layout
            if before.paths.map(\.pipelineFilter) != branch.layout.paths.map(\.pipelineFilter)
                || before.paths.map(\.publisherFilter) != branch.layout.paths.map(\.publisherFilter)
            {
                outcome.refiltered.append(branch.layout.publish)
            }
            try post(
                .gate(name: branch.layout.publish, publishing(branch).gate), to: workerConfig(of: branch.layout, in: new).name)
        }
        // 4. Removed publishers drain what their feeds wrote before step 2, end their streams and close.
        for branch in removed {
            try post(.removePublisher(name: branch.layout.publish), to: workerConfig(of: branch.layout, in: old).name)
            retiredFiltered.wrappingIncrement(by: branch.publisherFiltered.load, ordering: .relaxed)
            outcome.removed.append(branch.layout.publish)
        }
        replaceRunning(config: new, branches: next)
        if !added.isEmpty || !removed.isEmpty { layoutGeneration.wrappingIncrement(ordering: .releasing) }
        return outcome
    }

    /// Posts `change` to worker `name` and waits until its thread applied it.
    private func post(_ change: WorkerChange, to name: String) throws {
        guard let slot = workers.first(where: { $0.worker.name == name }) else { return }
        let ticket = slot.mailbox.post(change)
        guard slot.mailbox.wait(for: ticket) else {
            throw ConfigError(
                file: config.file, key: "workers",
                problem: "worker \(name) did not take the change within 5 s\(slot.worker.hasFinished ? " (it has stopped)" : "")")
        }
    }

    /// Everything a running handler cannot change: its feeds and lines, its workers and where the feeds run, the
    /// addresses and rings of publish nodes that stay, the journal, the metrics endpoint, the connection limits.
    public static func refuseWhatCannotChange(from old: ValidatedConfig, to new: ValidatedConfig) throws {
        func refuse(_ key: String, _ was: String, _ now: String) -> ConfigError {
            ConfigError(
                file: new.file, key: key,
                problem: "cannot change while running (\(was) → \(now)); restart to change it. The running configuration is kept")
        }
        guard old.feeds.map(\.name) == new.feeds.map(\.name) else {
            throw refuse("feeds", old.feeds.map(\.name).joined(separator: ", "), new.feeds.map(\.name).joined(separator: ", "))
        }
        for (f, (a, b)) in zip(old.feeds, new.feeds).enumerated() {
            let lines = { (feed: ValidatedConfig.Feed) in feed.lines.map { "\($0.name)=\($0.group)" }.joined(separator: " ") }
            let fields: [(String, String, String)] = [
                ("interface", "\(a.interface)", "\(b.interface)"),
                ("lines", lines(a), lines(b)),
                ("maxOrders", "\(a.maxOrders)", "\(b.maxOrders)"),
                ("receiveBuffer", "\(a.receiveBuffer)", "\(b.receiveBuffer)"),
                ("busyPollMicros", "\(a.busyPollMicros)", "\(b.busyPollMicros)"),
                ("timestamps", a.timestamps.rawValue, b.timestamps.rawValue),
                ("recovery", a.recoveryServer.map { "\($0)" } ?? "none", b.recoveryServer.map { "\($0)" } ?? "none"),
                ("(recovery and join settings)", "\(a.recovery)", "\(b.recovery)"),
            ]
            for (key, was, now) in fields where was != now {
                if key == "lines" {
                    // Name the line that changed.
                    for (i, (x, y)) in zip(a.lines, b.lines).enumerated() where x.group != y.group {
                        throw refuse("feeds[\(f)].lines[\(i)].group", "\(x.group)", "\(y.group)")
                    }
                }
                throw refuse("feeds[\(f)].\(key)", was, now)
            }
        }
        let workers = { (c: ValidatedConfig) in
            c.workers.map { "\($0.name) on CPU \($0.cpu.map(String.init) ?? "any") (\(($0.idle ?? .backoff).rawValue))" }
        }
        let oldWorkers = workers(old), newWorkers = workers(new)
        if let changed = newWorkers.first(where: { !oldWorkers.contains($0) }) {
            let name = String(changed.prefix { $0 != " " })
            throw refuse("workers", oldWorkers.first { $0.hasPrefix(name + " ") } ?? "no worker \(name)", changed)
        }
        if old.graph.feedWorkers.map(\.name) != new.graph.feedWorkers.map(\.name) {
            throw refuse(
                "workers (feed nodes)", old.graph.feedWorkers.map(\.name).joined(separator: ", "),
                new.graph.feedWorkers.map(\.name).joined(separator: ", "))
        }
        for branch in old.graph.branches {
            guard let now = new.graph.branch(branch.publish) else { continue }
            let key = "publish node '\(branch.publish)'"
            if old.listen(of: branch) != new.listen(of: now) {
                throw refuse("\(key) listen", "\(old.listen(of: branch))", "\(new.listen(of: now))")
            }
            if branch.worker?.name != now.worker?.name {
                throw refuse("\(key) worker", branch.worker?.name ?? "its feed's", now.worker?.name ?? "its feed's")
            }
            if branch.backPressure != now.backPressure {
                throw refuse("\(key) backPressure", branch.backPressure.rawValue, now.backPressure.rawValue)
            }
            if branch.feeds != now.feeds {
                throw refuse(
                    "\(key) feed", "\(branch.feeds.map { old.feeds[$0].name })", "\(now.feeds.map { new.feeds[$0].name })")
            }
            if old.journal(of: branch)?.directory != new.journal(of: now)?.directory {
                throw refuse(
                    "publisher.journal", old.journal(of: branch)?.directory ?? "none", new.journal(of: now)?.directory ?? "none")
            }
        }
        // A nats node holds a connection and numbers its own stream: it stays as started.
        func nats(_ c: ValidatedConfig) -> [String] {
            c.graph.natsBranches.map { b in
                "\(b.publish) \(b.nats!) on \(b.worker?.name ?? "") backPressure \(b.backPressure) "
                    + b.paths.map { "\($0.chain) \($0.pipelineFilter) \($0.publisherFilter)" }.joined(separator: "; ")
            }
        }
        if nats(old) != nats(new) {
            let was = Set(nats(old)), now = Set(nats(new))
            throw refuse(
                "graph (nats nodes)", was.subtracting(now).first.map { String($0.prefix { $0 != " " }) } ?? "none",
                now.subtracting(was).first.map { String($0.prefix { $0 != " " }) } ?? "none")
        }
        let settings: [(String, String, String)] = [
            ("publisher.ringSlots", "\(old.ringSlots)", "\(new.ringSlots)"),
            ("publisher.retention", "\(old.retentionDays)", "\(new.retentionDays)"),
            ("publisher.stateDirectory", old.stateDirectory, new.stateDirectory),
            ("publisher (connection limits)", "\(old.connectionLimits)", "\(new.connectionLimits)"),
            ("publisher.maxSymbolsPerSubscriber", "\(old.subscriberLimits.maxSymbols)", "\(new.subscriberLimits.maxSymbols)"),
            ("metrics.listen", old.metricsListen.map { "\($0)" } ?? "none", new.metricsListen.map { "\($0)" } ?? "none"),
            ("admin.socket", old.adminSocket, new.adminSocket),
        ]
        if let (key, was, now) = settings.first(where: { $0.1 != $0.2 }) { throw refuse(key, was, now) }
    }
}
