import DSINet
import Foundation
import Prometheus

/// One set of series per logged-in subscriber of a publisher, labelled by its address and login name, made and
/// removed at scrape time from the publisher's snapshot (at most a second old). A subscriber that leaves takes its
/// series with it, so a dashboard of who is connected shows only who is.
final class SubscriberSeries {
    // Used only under HandlerMetrics' lock (its scrape refreshers run there).
    private struct Series {
        var ticksSent: Prometheus.Counter
        var sentSoFar: UInt64
        var quotesConflated: Prometheus.Counter
        var conflatedSoFar: UInt64
        var queuedBytes: Gauge
        var conflating: Gauge
        var catchingUp: Gauge
    }

    private let publisher: TLSPublisher
    private let labels: [(String, String)]
    private var live: [String: Series] = [:]

    init(publisher: TLSPublisher, labels: [(String, String)]) {
        self.publisher = publisher
        self.labels = labels
    }

    func register(on metrics: HandlerMetrics) {
        metrics.onScrape({ [self] in refresh(metrics.registry) }, clear: { [self] in clear(metrics.registry) })
    }

    /// Every series it made leaves the registry (its publish node was removed).
    private func clear(_ registry: PrometheusCollectorRegistry) { drop(registry, keeping: []) }

    private func drop(_ registry: PrometheusCollectorRegistry, keeping present: Set<String>) {
        for (address, gone) in live where !present.contains(address) {
            registry.unregisterCounter(gone.ticksSent)
            registry.unregisterCounter(gone.quotesConflated)
            registry.unregisterGauge(gone.queuedBytes)
            registry.unregisterGauge(gone.conflating)
            registry.unregisterGauge(gone.catchingUp)
            live[address] = nil
        }
    }

    private func refresh(_ registry: PrometheusCollectorRegistry) {
        let snapshots = publisher.subscriberSnapshots
        drop(registry, keeping: Set(snapshots.map(\.address)))
        for s in snapshots {
            var series = live[s.address] ?? make(registry, labels + [("subscriber", s.name), ("address", s.address)])
            if s.ticksSent > series.sentSoFar {
                series.ticksSent.increment(by: Int64(clamping: s.ticksSent - series.sentSoFar))
                series.sentSoFar = s.ticksSent
            }
            if s.quotesConflated > series.conflatedSoFar {
                series.quotesConflated.increment(by: Int64(clamping: s.quotesConflated - series.conflatedSoFar))
                series.conflatedSoFar = s.quotesConflated
            }
            series.queuedBytes.set(Double(s.queuedBytes))
            series.conflating.set(s.conflating ? 1.0 : 0.0)
            series.catchingUp.set(s.catchingUp ? 1.0 : 0.0)
            live[s.address] = series
        }
    }

    private func make(_ registry: PrometheusCollectorRegistry, _ labels: [(String, String)]) -> Series {
        func counter(_ name: String, _ help: String) -> Prometheus.Counter {
            registry.makeCounter(
                descriptor: MetricNameDescriptor(metricName: name, unitName: "total", helpText: help), labels: labels)
        }
        func gauge(_ name: String, _ help: String) -> Gauge {
            registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
        }
        return Series(
            ticksSent: counter("dsi_subscriber_ticks_sent", "Ticks sent to the subscriber since it connected"), sentSoFar: 0,
            quotesConflated: counter(
                "dsi_subscriber_quotes_conflated", "Quotes the subscriber did not get because a later one replaced them"),
            conflatedSoFar: 0,
            queuedBytes: gauge("dsi_subscriber_queued_bytes", "Bytes written for the subscriber its socket has not taken"),
            conflating: gauge("dsi_subscriber_conflating", "1 while the subscriber is behind and its quotes are conflated"),
            catchingUp: gauge("dsi_subscriber_catching_up", "1 while the subscriber is sent the journal after a resume"))
    }
}

/// Where a publisher's batch latencies go: set before the publisher is first polled, so the publisher's thread never
/// sees the closure change; the histogram behind it is attached (and replaced) by the metrics thread.
final class LatencyRecorder: @unchecked Sendable {
    // @unchecked Sendable: `target` is guarded by `lock`.
    private let lock = NSLock()
    private var target: DurationHistogram?

    var histogram: DurationHistogram? {
        get { lock.withLock { target } }
        set { lock.withLock { target = newValue } }
    }

    /// On the publisher's thread, once per batch.
    func record(_ nanos: UInt64) {
        lock.withLock { target }?.recordNanoseconds(Int64(clamping: nanos))
    }
}
