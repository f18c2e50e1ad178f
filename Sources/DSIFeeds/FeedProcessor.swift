import DSICore

/// One feed's pipeline stage from packets to ticks: MoldUDP64 framing, session and sequence tracking (which drops what
/// another line already delivered: A/B arbitration, first arrival wins), then the normalizer.
///
/// A gap no line filled is reported, never skipped silently: counted, and published as a `gap` tick with its range.
public struct FeedProcessor {
    public var normalizer: Normalizer
    public var tracker = SequenceTracker()
    public let counters: FeedCounters
    @usableFromInline var session: SessionKey? = nil

    public init(expectedOrders: Int, counters: FeedCounters = FeedCounters()) {
        self.counters = counters
        normalizer = Normalizer(expectedOrders: expectedOrders, counters: counters)
    }

    /// Whether the feed's last packet was an end-of-session packet.
    public var sessionEnded = false

    /// Processes one datagram of `length` bytes at `p` received at `receiveTime` (ns since the epoch).
    @inlinable
    public mutating func process<Sink: TickSink>(
        packet p: UnsafeRawPointer, length: Int, receiveTime: UInt64, sink: inout Sink
    ) {
        guard let packet = MoldUDP64Packet(p, length: length), packet.blocksAreWellFormed else {
            counters.malformedPackets.add()
            return
        }
        counters.packets.add()
        let key = packet.sessionKey
        if session != key {
            if session != nil {
                // A new session (a new day) restarts sequence numbers from 1.
                counters.sessionChanges.add()
                tracker = SequenceTracker()
            }
            session = key
        }
        if packet.isEndOfSession { counters.endOfSession.add(); sessionEnded = true }
        else if packet.isHeartbeat { counters.heartbeats.add() }

        let first = packet.sequence
        let count = packet.messageCount
        var skip = 0
        switch tracker.track(first: first, count: count) {
        case .duplicate:
            if count > 0 {
                counters.duplicatePackets.add()
                counters.duplicateMessages.add(UInt64(count))
            }
            return
        case .accept(let already):
            skip = already
            if already > 0 { counters.duplicateMessages.add(UInt64(already)) }
        case .gap(let from, let to):
            reportGap(from: from, to: to, receiveTime: receiveTime, sink: &sink)
        }
        // A plain loop, not `forEachMessage`: a closure would need a copy of the normalizer, and mutating that copy
        // would copy its books.
        var offset = MoldUDP64Packet.headerSize
        for index in 0..<count {
            let messageLength = Int(p.bigEndianU16(at: offset))  // in bounds: blocksAreWellFormed held
            if index >= skip {
                counters.messages.add()
                normalizer.handle(p + offset + 2, length: messageLength, seq: first &+ UInt64(index),
                                  receiveTime: receiveTime, sink: &sink)
            }
            offset += 2 + messageLength
        }
    }

    @inlinable
    mutating func reportGap<Sink: TickSink>(from: UInt64, to: UInt64, receiveTime: UInt64, sink: inout Sink) {
        counters.gaps.add()
        counters.lostMessages.add(to - from + 1)
        var tick = Tick(kind: .gap)
        tick.seq = from
        tick.gapFirst = from
        tick.gapLast = to
        tick.receiveTime = receiveTime
        counters.ticks.add()
        sink.publish(tick)
    }
}
