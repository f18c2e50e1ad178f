import DSICore

/// Which ticks go on: a chain of conditions, every one of which a tick must meet.
///
/// Loss reports (gap status ticks) always pass: a filter narrows what a consumer sees, it never hides a loss.
/// Market-wide status (stock locate 0) passes symbol conditions, since it concerns every symbol.
public struct TickFilter: Sendable, TickGate, Equatable {
    public enum Condition: Sendable, Equatable {
        /// Only these symbols.
        case symbols(Set<UInt64>)
        /// Only these kinds.
        case kinds(Set<Tick.Kind>)
        /// Trades priced within `min...max`; quotes whose non-empty sides are within it.
        case priceBand(min: UInt32, max: UInt32)
    }

    public var conditions: [Condition]

    public init(_ conditions: [Condition] = []) { self.conditions = conditions }

    /// A symbol condition from plain names.
    public static func symbols(_ names: [String]) -> Condition { .symbols(Set(names.map { Symbol($0).raw })) }

    @inlinable
    public mutating func admit(_ tick: Tick) -> Bool { conditions.isEmpty || passes(tick) }

    @inlinable
    public func passes(_ tick: Tick) -> Bool {
        if tick.kind == .status && tick.statusType == Tick.gapStatusType { return true }
        for condition in conditions {
            switch condition {
            case .symbols(let set):
                if tick.stockLocate != 0 && !set.contains(tick.stock.raw) { return false }
            case .kinds(let kinds):
                if !kinds.contains(tick.kind) { return false }
            case .priceBand(let low, let high):
                switch tick.kind {
                case .trade:
                    if tick.price < low || tick.price > high { return false }
                case .quote:
                    if tick.bidPrice != 0 && (tick.bidPrice < low || tick.bidPrice > high) { return false }
                    if tick.askPrice != 0 && (tick.askPrice < low || tick.askPrice > high) { return false }
                default:
                    break
                }
            }
        }
        return true
    }
}

/// Applies a filter in front of another sink; counts what it holds back.
public struct FilteringSink<Inner: TickSink>: TickSink {
    public var inner: Inner
    /// Replaced by a live reload (on the thread that owns the sink); the counter stays.
    public var filter: TickFilter
    public let filtered = Counter()

    public init(inner: Inner, filter: TickFilter) {
        self.inner = inner
        self.filter = filter
    }

    @inlinable
    public mutating func publish(_ tick: Tick) {
        if filter.conditions.isEmpty || filter.passes(tick) {
            inner.publish(tick)
        } else {
            filtered.add()
        }
    }
}
