import DSINet
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
        metrics.onScrape { [self] in refresh(metrics.registry) }
    }

    private func refresh(_ registry: PrometheusCollectorRegistry) {
        let snapshots = publisher.subscriberSnapshots
        let present = Set(snapshots.map(\.address))
        for (address, gone) in live where !present.contains(address) {
            registry.unregisterCounter(gone.ticksSent)
            registry.unregisterCounter(gone.quotesConflated)
            registry.unregisterGauge(gone.queuedBytes)
            registry.unregisterGauge(gone.conflating)
            registry.unregisterGauge(gone.catchingUp)
            live[address] = nil
        }
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
