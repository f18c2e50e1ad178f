import DSICore
import DSINet
import Foundation

extension FeedHandler {
    /// What `dsi ctl status` prints: the handler's counters per feed, line, publisher and subscriber, its workers'
    /// load, and the configuration it runs (as `dsi run --check` prints it, with every default).
    public func statusReport(reloads: Int = 0) -> String {
        let config = self.config
        var out = ["dsi handler: pid \(getpid()), config \(config.file), \(reloads) reloads applied"]
        out.append("feeds:")
        for feed in feeds {
            let counts = feed.counters.snapshot.filter { $0.1 > 0 || ["messages", "gaps", "lostMessages"].contains($0.0) }
            out.append("  \(feed.config.name): " + counts.map { "\($0.0)=\($0.1)" }.joined(separator: " "))
            for (line, receiver) in zip(feed.config.lines, feed.receivers) {
                out.append(
                    "    line \(line.name) \(line.group): datagrams=\(receiver.datagrams.load) kernelDrops=\(receiver.kernelDrops.load)"
                )
            }
        }
        out.append("publishers:")
        for branch in branches {
            let p = branch.publisher
            out.append(
                "  \(branch.layout.publish) on \(config.listen(of: branch.layout).address):\(p.port): subscribers=\(p.subscribers.load) ticksPublished=\(p.ticksPublished.load) slowConsumers=\(p.slowConsumerDisconnects.load) connectionsRefused=\(p.connectionsRefused.load) filtered=\(branch.publisherFiltered.load)"
            )
            out.append("    path: \(branch.layout.chain.joined(separator: " → "))")
            for s in p.subscriberSnapshots {
                out.append(
                    "    subscriber \"\(s.name)\" \(s.address)\(s.identity.map { " (\($0))" } ?? ""): \(s.encoding) ticksSent=\(s.ticksSent) queuedBytes=\(s.queuedBytes) connected=\(Int(s.connectedSeconds)) s"
                        + (s.conflating ? " conflating (\(s.quotesConflated) quotes)" : "") + (s.catchingUp ? " catching up" : "")
                )
            }
        }
        for branch in natsBranches {
            let c = branch.client.counts
            out.append(
                "  nats \(branch.name) (\(branch.settings.servers.joined(separator: ","))\(branch.settings.jetstream.map { ", stream \($0)" } ?? "")): \(branch.client.isConnected ? "connected to \(branch.client.server)" : "disconnected") published=\(branch.published.load) resent=\(c.resent) refused=\(c.refused) reconnects=\(c.reconnects)"
            )
        }
        out.append("  ticksDropped=\(ticksDropped) ticksFiltered=\(ticksFiltered)")
        out.append("workers:")
        for (worker, feedIndices, _) in workers {
            let runs = feedIndices.map { feeds[$0].config.name }
            out.append(
                "  \(worker.name) on CPU \(worker.cpu.map(String.init) ?? "any") (\(worker.idle.rawValue)): \(worker.hasFinished ? "stopped" : "running")"
                    + (runs.isEmpty ? "" : ", feeds \(runs.joined(separator: ", "))")
                    + String(
                        format: ", busy %.3f s in %llu duty cycles (%llu idle)", Double(worker.busyNanos.load) / 1e9,
                        worker.cycles.load, worker.idleCycles.load))
        }
        if let failure { out.append("a worker failed: \(failure)") }
        out.append("running configuration:")
        out += config.resolvedDescription.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }
        return out.joined(separator: "\n") + "\n"
    }
}
