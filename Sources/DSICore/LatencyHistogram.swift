import Histogram

/// Latency percentiles in nanoseconds (an HdrHistogram with three significant digits, up to 60 s). Its buckets are
/// allocated once at creation; recording does not allocate.
public struct LatencyHistogram: Sendable {
    private var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)

    public init() {}

    /// Records one latency; values above 60 s are clamped to 60 s.
    public mutating func record(_ nanos: UInt64) {
        _ = histogram.record(Swift.min(nanos, 60_000_000_000))
    }

    public mutating func add(_ other: LatencyHistogram) { histogram.add(other.histogram) }

    public var count: UInt64 { histogram.totalCount }
    public func percentile(_ p: Double) -> UInt64 { count == 0 ? 0 : histogram.valueAtPercentile(p) }
    public var max: UInt64 { count == 0 ? 0 : histogram.max }
    public var min: UInt64 { count == 0 ? 0 : histogram.min }
    public var mean: Double { count == 0 ? 0 : histogram.mean }

    /// The distribution in HdrHistogram's percentile format (the `.hgrm` text its plotters read), values divided by
    /// `unitNanos` (1 000: microseconds).
    public func percentileDistribution(unitNanos: Double = 1_000) -> String {
        var out = ""
        histogram.outputPercentileDistribution(to: &out, outputValueUnitScalingRatio: unitNanos)
        return out
    }

    /// p50, p99, p99.9 and max, for summaries.
    public var summary: LatencySummary {
        LatencySummary(count: count, p50: percentile(50), p99: percentile(99), p999: percentile(99.9), max: max)
    }
}

/// A latency distribution reduced to the figures a summary prints.
public struct LatencySummary: Sendable, Equatable, Codable {
    public var count: UInt64
    public var p50: UInt64
    public var p99: UInt64
    public var p999: UInt64
    public var max: UInt64

    public init(count: UInt64, p50: UInt64, p99: UInt64, p999: UInt64, max: UInt64) {
        self.count = count; self.p50 = p50; self.p99 = p99; self.p999 = p999; self.max = max
    }
}
