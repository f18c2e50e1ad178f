import DSICore
import DSIFeeds
import DSINet
import Foundation
import Prometheus

extension FeedHandler {
    /// Every counter and gauge the handler keeps, named by Prometheus' conventions (`dsi_` prefix, `_total` on
    /// counters, base units), labelled by feed, line and publish node.
    public func makeMetrics() -> HandlerMetrics {
        let m = HandlerMetrics()
        for feed in feeds { register(feed, on: m) }
        for branch in branches { register(branch, on: m) }
        for branch in natsBranches {
            let labels = [
                ("feed", branch.layout.feeds.map { feeds[$0].config.name }.joined(separator: "+")), ("node", branch.name),
            ]
            let client = branch.client
            m.counter("dsi_nats_published_ticks_total", "Ticks the nats node handed to the NATS client", labels) {
                branch.published.load
            }
            m.counter("dsi_nats_resent_total", "JetStream publishes sent again after no acknowledgement", labels) {
                client.counts.resent
            }
            m.counter("dsi_nats_refused_total", "Publishes the NATS client could not take at once (retried)", labels) {
                client.counts.refused
            }
            m.counter("dsi_nats_reconnects_total", "Reconnections to the NATS cluster", labels) { client.counts.reconnects }
            m.gauge("dsi_nats_connected", "1 while connected to a NATS server", labels) { client.isConnected ? 1 : 0 }
            for (worker, ring) in branch.rings {
                let name = "nats:\(branch.name)" + (branch.rings.count > 1 ? ":\(worker)" : "")
                m.gauge("dsi_ring_slots_used", "Slots in use in a ring", [labels[0], ("ring", name)]) { Double(ring.count) }
            }
        }
        for (worker, _, _) in workers {
            let labels = [("worker", worker.name)]
            m.counter("dsi_worker_duty_cycles_total", "Duty cycles the worker ran", labels) { worker.cycles.load }
            m.counter("dsi_worker_idle_cycles_total", "Duty cycles that found no work", labels) { worker.idleCycles.load }
            m.secondsCounter(
                "dsi_worker_busy_seconds_total", "Time in duty cycles that found work (its rate is the share of the core busy)",
                labels, nanos: { worker.busyNanos.load })
            m.gauge("dsi_worker_up", "1 while the worker's thread runs its duty cycle, 0 once it stopped or failed", labels) {
                worker.hasFinished ? 0 : 1
            }
        }
        return m
    }

    /// Brings the publish nodes' series in line with the running graph after a reload added or removed some.
    /// - Parameter registered: the publish nodes `m` has series for; updated.
    public func follow(_ m: HandlerMetrics, registered: inout Set<String>) {
        let current = branches
        for name in registered where !current.contains(where: { $0.layout.publish == name }) {
            m.remove(owner: name)
            registered.remove(name)
        }
        for branch in current where !registered.contains(branch.layout.publish) {
            register(branch, on: m)
            registered.insert(branch.layout.publish)
        }
    }

    /// A publish node's series, owned by its name (a reload may remove it).
    private func register(_ branch: Branch, on m: HandlerMetrics) {
        m.owned(by: branch.layout.publish) {
            let labels = labels(branch)
            let p = branch.publisher
            for (worker, ring) in branch.rings {
                let name = "publish:\(branch.layout.publish)" + (branch.rings.count > 1 ? ":\(worker)" : "")
                m.gauge("dsi_ring_slots_used", "Slots in use in a ring", [labels[0], ("ring", name)]) { Double(ring.count) }
            }
            m.counter("dsi_published_ticks_total", "Ticks the publisher numbered and sent", labels) { p.ticksPublished.load }
            m.gauge("dsi_subscribers", "Subscribers logged in", labels) { Double(p.subscribers.load) }
            m.gauge("dsi_connections", "Connections open (handshaking, subscribed or closing)", labels) {
                Double(p.openConnections.load)
            }
            m.counter("dsi_slow_consumer_disconnects_total", "Subscribers cut off for falling behind", labels) {
                p.slowConsumerDisconnects.load
            }
            m.counter(
                "dsi_quotes_conflated_total", "Quotes a conflating subscriber did not get (a later one replaced them)", labels
            ) {
                p.quotesConflated.load
            }
            m.counter("dsi_connections_refused_total", "Connections closed on arrival by a connection limit", labels) {
                p.connectionsRefused.load
            }
            m.counter("dsi_handshake_failures_total", "TLS handshakes that failed", labels) { p.handshakeFailures.load }
            m.counter("dsi_protocol_errors_total", "Subscribers cut off for breaking the protocol", labels) {
                p.protocolErrors.load
            }
            m.gauge("dsi_journal_damaged", "1 when the journal's tail was found damaged at start or the journal failed", labels) {
                Double(p.journalDamaged.load + p.journalFailed.load)
            }
            branch.latency.histogram = m.latencyHistogram(
                "dsi_tick_latency_seconds",
                "Kernel receive to TLS write of a publish batch's first tick (one sample per batch, the tick that waited longest)",
                labels)
            SubscriberSeries(publisher: branch.publisher, labels: labels).register(on: m)
        }
    }

    /// A publisher's labels: the feeds it carries (joined by `+` when several) and its node's name.
    private func labels(_ branch: Branch) -> [(String, String)] {
        [
            ("feed", branch.layout.feeds.map { feeds[$0].config.name }.joined(separator: "+")),
            ("publisher", branch.layout.publish),
        ]
    }

    /// A feed's counters, its lines' and its ingest ring's.
    private func register(_ runtime: Feed, on m: HandlerMetrics) {
        let feed = [("feed", runtime.config.name)]
        let c = runtime.counters
        let feedCounters: [(String, String, DSICore.Counter)] = [
            ("dsi_packets_total", "MoldUDP64 packets taken from the lines (both copies of a message count)", c.packets),
            ("dsi_messages_total", "ITCH messages handled once each, after arbitration", c.messages),
            ("dsi_duplicate_messages_total", "Second copies of messages dropped by A/B arbitration", c.duplicateMessages),
            ("dsi_gaps_total", "Gaps in the sequence seen (each is recovered or reported lost)", c.gaps),
            ("dsi_lost_messages_total", "Messages neither line nor recovery delivered, reported as gap ticks", c.lostMessages),
            ("dsi_recovery_requests_total", "MoldUDP64 re-requests sent", c.recoveryRequests),
            ("dsi_recovered_messages_total", "Messages filled in by re-requests", c.recoveredMessages),
            ("dsi_heartbeats_total", "MoldUDP64 heartbeats received", c.heartbeats),
            ("dsi_session_changes_total", "MoldUDP64 session changes followed", c.sessionChanges),
            ("dsi_malformed_packets_total", "Datagrams that are not MoldUDP64", c.malformedPackets),
            ("dsi_unknown_messages_total", "ITCH messages of an unknown type or too short", c.unknownMessages),
            ("dsi_ticks_total", "Ticks the pipeline made", c.ticks),
        ]
        for (name, help, counter) in feedCounters { m.counter(name, help, feed) { counter.load } }
        for (reason, counter) in [
            ("stale_session", c.staleSessionPackets), ("foreign_session", c.foreignSessionPackets),
            ("implausible", c.implausiblePackets), ("beyond_end", c.beyondEndPackets),
        ] {
            m.counter("dsi_stray_packets_total", "Packets set aside as strays, by why", feed + [("reason", reason)]) {
                counter.load
            }
        }
        for (line, receiver) in zip(runtime.config.lines, runtime.receivers) {
            let labels = feed + [("line", line.name)]
            m.counter("dsi_line_datagrams_total", "Datagrams received on the line", labels) { receiver.datagrams.load }
            m.counter("dsi_line_kernel_drops_total", "Datagrams the kernel dropped for the line (socket buffer full)", labels) {
                receiver.kernelDrops.load
            }
        }
        let ingest = runtime.ingest
        m.gauge("dsi_ring_slots_used", "Slots in use in a ring", feed + [("ring", "ingest")]) { Double(ingest.count) }
        m.counter("dsi_ticks_dropped_total", "Ticks dropped at a full publish ring (back-pressure drop)", feed) {
            runtime.sinks.reduce(0) { $0 + $1.inner.dropped.load }
        }
    }
}
