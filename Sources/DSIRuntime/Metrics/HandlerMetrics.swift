import DSICore
import DSIFeeds
import DSINet
import Foundation
import Prometheus

/// The handler's counters and gauges in Prometheus' text format, through swift-prometheus' registry (its metrics are
/// swift-metrics handlers). The hot path keeps its own atomic counters; these are sampled from them when scraped, on
/// the metrics thread, so a scrape costs the pipeline nothing. Registered with help texts: `promtool check metrics`
/// refuses metrics without one, which swift-metrics' factory path cannot give.
public final class HandlerMetrics: @unchecked Sendable {
    // @unchecked Sendable: `sample` and `exposition` run under `lock`; the registry is thread-safe.
    public let registry = PrometheusCollectorRegistry()
    private let lock = NSLock()
    /// Each counter with its source and the scale from the source's unit to the metric's (1e-9 from ns to s).
    private var counters: [(read: () -> UInt64, metric: Prometheus.Counter, last: UInt64, scale: Double, owner: String?)] = []
    private var gauges: [(read: () -> Double, metric: Gauge, owner: String?)] = []
    private var histograms: [(metric: DurationHistogram, owner: String?)] = []
    /// Run at each scrape before the gauges, for series that come and go (one per subscriber); `clear` unregisters
    /// what they made when their owner goes.
    private var refreshers: [(refresh: () -> Void, clear: () -> Void, owner: String?)] = []
    /// While registering what belongs to something that may go away (a publish node a reload removes): its name.
    private var owner: String? = nil

    /// A counter sampled from `read` (a monotonic DSI counter); `name` ends in `_total`.
    public func counter(_ name: String, _ help: String, _ labels: [(String, String)] = [], _ read: @escaping () -> UInt64) {
        counter(name, help, labels, scale: 1, read)
    }

    /// A counter of seconds (`name` ends in `_seconds_total`) sampled from a DSI counter of nanoseconds.
    public func secondsCounter(
        _ name: String, _ help: String, _ labels: [(String, String)] = [], nanos read: @escaping () -> UInt64
    ) {
        precondition(name.hasSuffix("_seconds_total"), "a counter of seconds ends in _seconds_total")
        counter(name, help, labels, scale: 1e-9, read)
    }

    private func counter(
        _ name: String, _ help: String, _ labels: [(String, String)], scale: Double, _ read: @escaping () -> UInt64
    ) {
        precondition(name.hasSuffix("_total"), "a counter's name ends in _total")
        let descriptor = MetricNameDescriptor(metricName: String(name.dropLast(6)), unitName: "total", helpText: help)
        counters.append((read, registry.makeCounter(descriptor: descriptor, labels: labels), 0, scale, owner))
    }

    /// A gauge sampled from `read`.
    public func gauge(_ name: String, _ help: String, _ labels: [(String, String)] = [], _ read: @escaping () -> Double) {
        let descriptor = MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
        gauges.append((read, registry.makeGauge(descriptor: descriptor, labels: labels), owner))
    }

    /// A latency histogram in seconds (`name` ends in `_seconds`); its `record` may be called from any thread.
    public func latencyHistogram(_ name: String, _ help: String, _ labels: [(String, String)]) -> DurationHistogram {
        precondition(name.hasSuffix("_seconds"), "a latency histogram's name ends in _seconds")
        let descriptor = MetricNameDescriptor(metricName: String(name.dropLast(8)), unitName: "seconds", helpText: help)
        let histogram = registry.makeDurationHistogram(descriptor: descriptor, labels: labels, buckets: Self.latencyBuckets)
        histograms.append((histogram, owner))
        return histogram
    }

    /// From 5 µs (a tick through an idle pipeline on a dedicated core) to 1 s (a handler far behind).
    static let latencyBuckets: [Duration] = [
        .microseconds(5), .microseconds(10), .microseconds(25), .microseconds(50), .microseconds(100),
        .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2_500), .milliseconds(5),
        .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1),
    ]

    /// Runs `refresh` under the metrics' lock at every scrape, before the exposition is written; `clear` when its
    /// owner is removed.
    public func onScrape(_ refresh: @escaping () -> Void, clear: @escaping () -> Void = {}) {
        refreshers.append((refresh, clear, owner))
    }

    /// Registers what `body` registers as belonging to `owner`, so that `remove(owner:)` can take it away.
    public func owned(by owner: String, _ body: () -> Void) {
        lock.withLock { self.owner = owner }
        body()
        lock.withLock { self.owner = nil }
    }

    /// Every series `owner` registered leaves the exposition.
    public func remove(owner: String) {
        lock.lock()
        defer { lock.unlock() }
        for c in counters where c.owner == owner { registry.unregisterCounter(c.metric) }
        for g in gauges where g.owner == owner { registry.unregisterGauge(g.metric) }
        for h in histograms where h.owner == owner { registry.unregisterDurationHistogram(h.metric) }
        for r in refreshers where r.owner == owner { r.clear() }
        counters.removeAll { $0.owner == owner }
        gauges.removeAll { $0.owner == owner }
        histograms.removeAll { $0.owner == owner }
        refreshers.removeAll { $0.owner == owner }
    }

    /// Brings every metric up to its source, then writes the exposition.
    public func exposition() -> [UInt8] {
        lock.lock()
        defer { lock.unlock() }
        for r in refreshers { r.refresh() }
        for i in counters.indices {
            let now = counters[i].read()
            // A source never goes back; if one did (a restart in place), the counter holds rather than going down.
            if now > counters[i].last {
                let delta = now - counters[i].last
                if counters[i].scale == 1 {
                    counters[i].metric.increment(by: Int64(clamping: delta))
                } else {
                    counters[i].metric.increment(by: Double(delta) * counters[i].scale)
                }
                counters[i].last = now
            }
        }
        for g in gauges { g.metric.set(g.read()) }
        return registry.emitToBuffer()
    }
}
