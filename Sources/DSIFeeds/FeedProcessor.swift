import DSICore

/// What a sequenced feed hands each message to, in sequence order: the normalizer (books and ticks), or `dsi decode`'s
/// printer.
public protocol MessageConsumer {
    /// One message of `length` bytes at `p`, with its MoldUDP64 sequence number.
    mutating func handle<Sink: TickSink>(_ p: UnsafeRawPointer, length: Int, seq: UInt64, receiveTime: UInt64, sink: inout Sink)
    /// A session begins: the feed's first (`isFirst`), or a new day after another (forget the old one's state).
    mutating func sessionBegins(_ name: String, isFirst: Bool)
    /// A hint that the message at `p` will be handled soon (e.g. to prefetch what it refers to).
    func prefetch(_ p: UnsafeRawPointer, length: Int)
}

extension MessageConsumer {
    @inlinable public func prefetch(_ p: UnsafeRawPointer, length: Int) {}
}

/// The live pipeline's stage from packets to ticks.
public typealias FeedProcessor = SequencedFeed<Normalizer>

extension SequencedFeed where Consumer == Normalizer {
    public init(expectedOrders: Int, counters: FeedCounters = FeedCounters(), policy: RecoveryPolicy = .immediate) {
        self.init(consumer: Normalizer(expectedOrders: expectedOrders, counters: counters), counters: counters, policy: policy)
    }

    /// The books and tick builder.
    public var normalizer: Normalizer { consumer }
}
