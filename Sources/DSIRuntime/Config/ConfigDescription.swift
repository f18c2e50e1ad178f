import DSICore
import DSIFeeds
import Foundation

extension ValidatedConfig {
    /// The configuration as the handler would run it, every default filled in, as YAML with the memory it would take:
    /// what `dsi run --check` prints.
    public var resolvedDescription: String {
        func ms(_ nanos: UInt64) -> String { ConfigField.plain(Double(nanos) / 1e6) }
        var lines = ["# \(file): valid; resolved with every default (dsi run --check)", "feeds:"]
        for feed in feeds {
            let r = feed.recovery
            lines += [
                "  - name: \(feed.name)",
                "    protocol: moldudp64-itch50",
                "    interface: \(feed.interface)",
                "    lines:",
            ]
            lines += feed.lines.map { "      - {name: \($0.name), group: \"\($0.group)\"}" }
            lines += [
                "    maxOrders: \(feed.maxOrders)",
                "    receiveBuffer: \(feed.receiveBuffer)",
                "    busyPollMicros: \(feed.busyPollMicros)",
                "    timestamps: \(feed.timestamps.rawValue)",
                "    recovery: \(feed.recoveryServer.map { "\($0)" } ?? "null  # none: ranges no line fills are reported lost")",
                "    lineWaitMs: \(ms(r.lineWaitNanos))",
                "    maxLineLagMs: \(ms(r.maxLineLagNanos))",
                "    recoveryTimeoutMs: \(ms(r.requestTimeoutNanos))",
                "    recoveryRetries: \(r.maxRetries)",
                "    requestMessages: \(r.requestMessages)",
                "    maxRequestsInFlight: \(r.maxRequestsInFlight)",
                "    requestsPerSecond: \(ConfigField.plain(r.requestsPerSecond))",
                "    holdBytes: \(r.holdBytes)",
                "    session: \(r.pinnedSession.map { "\"\($0)\"" } ?? "null  # any, once confirmed")",
                "    join: \(r.join)",
                "    confirmPackets: \(r.confirmPackets)",
                "    sequenceSlack: \(r.sequenceSlack)",
                "    maxMessagesPerSecond: \(r.maxMessagesPerSecond)",
            ]
        }
        lines += [
            "publisher:",
            "  listen: \(listen)",
            "  certificate: \(certificate ?? "null  # self-signed, made in the state directory")",
            "  key: \(key ?? "null")",
            "  stateDirectory: \(stateDirectory)",
            "  maxQueuedBytes: \(maxQueuedBytes)",
            "  backPressure: \(backPressure.rawValue)",
            "  ringSlots: \(ringSlots)",
            "  maxConnections: \(connectionLimits.maxConnections)",
            "  maxConnectionsPerAddress: \(connectionLimits.maxPerAddress)",
            "  maxHandshakes: \(connectionLimits.maxHandshakes)",
            "  handshakeTimeoutMs: \(ms(connectionLimits.handshakeTimeoutNanos))",
            "  logLinesPerSecond: \(connectionLimits.logLinesPerSecond)",
            "  journal: \(journal ?? "null  # no journal: the stream starts again from 1 at each start")",
            "  retention: \(retentionDays)",
            "  maxSymbolsPerSubscriber: \(subscriberLimits.maxSymbols)",
            "  slowConsumer: \(slowConsumer.rawValue)",
            "  conflateGraceMs: \(ms(conflateGraceNanos))",
            "  clientCA: \(clientCA ?? "null  # no client certificates asked for")",
            "  entitlements: \(entitlements.map { "\($0.entries.count) (\($0.entries.map(\.name).joined(separator: ", ")))" } ?? "null  # every client takes everything")",
            "metrics:",
            "  listen: \(metricsListen.map(\.description) ?? "null  # no /metrics, /healthz, /readyz")",
            "admin:",
            "  socket: \(adminSocket)",
            "logLevel: \(logLevel ?? "null  # as --log-level")",
            "# graph: \(graph.description)",
            "# workers:",
        ]
        for worker in workers {
            lines.append(
                "#   \(worker.name): CPU \(worker.cpu.map(String.init) ?? "any"), idle \((worker.idle ?? .backoff).rawValue)")
        }
        let memory = MachineLimits.memory(for: self)
        let total = memory.reduce(0) { $0 + $1.bytes }
        lines.append(
            "# memory allocated at start: \(MachineLimits.gib(total))"
                + (MachineLimits.availableMemory.map { " of \(MachineLimits.gib($0)) available" } ?? ""))
        lines += memory.map { "#   \($0.key): \(MachineLimits.gib($0.bytes))" }
        return lines.joined(separator: "\n")
    }
}
