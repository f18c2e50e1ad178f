import DSICore

/// Turns ITCH 5.0 messages into book changes and normalized ticks: trades, trade breaks, top-of-book quotes, status.
///
/// One call per message, reading fields in place; no allocation in steady state. A quote tick goes out whenever a
/// message leaves a stock's best bid or ask price or size different from what was last published. Only a message
/// that changed a side's best level can do that (the books say so), so only those compare against the last quote.
public struct Normalizer: MessageConsumer {
    public var books: OrderBooks
    public let counters: FeedCounters
    let expectedOrders: Int
    /// The last published top of book per locate, to publish quotes only on change.
    @usableFromInline var lastQuote: ContiguousArray<Quote>

    @usableFromInline
    struct Quote: Equatable {
        @usableFromInline var bidPrice: UInt32 = 0, askPrice: UInt32 = 0
        @usableFromInline var bidSize: UInt64 = 0, askSize: UInt64 = 0
        @usableFromInline init() {}
        @usableFromInline init(bidPrice: UInt32, askPrice: UInt32, bidSize: UInt64, askSize: UInt64) {
            self.bidPrice = bidPrice; self.askPrice = askPrice; self.bidSize = bidSize; self.askSize = askSize
        }
    }

    /// Bytes a normalizer made for `expectedOrders` allocates up front: the order table, the price-level pool, and
    /// per stock locate its book sides, symbol and last quote.
    public static func bytes(forExpectedOrders expectedOrders: Int) -> Int {
        OrderTable.bytes(forExpectedOrders: expectedOrders)
            + max(expectedOrders, 64) * MemoryLayout<BookLevels.Level>.stride
            + OrderBooks.locates
            * (2 * MemoryLayout<BookLevels.Side>.stride + MemoryLayout<Symbol>.stride + MemoryLayout<Quote>.stride)
    }

    public init(expectedOrders: Int, counters: FeedCounters) {
        self.expectedOrders = expectedOrders
        books = OrderBooks(expectedOrders: expectedOrders)
        self.counters = counters
        lastQuote = ContiguousArray(repeating: Quote(), count: OrderBooks.locates)
    }

    /// Handles one message of `length` bytes at `p` that arrived with MoldUDP64 sequence `seq`.
    @inlinable
    public mutating func handle<Sink: TickSink>(
        _ p: UnsafeRawPointer, length: Int, seq: UInt64, receiveTime: UInt64, sink: inout Sink
    ) {
        guard length >= ITCHOffsets.body else {
            counters.shortMessages.add()
            return
        }
        let type = p.byte(at: 0)
        let locate = p.bigEndianU16(at: ITCHOffsets.stockLocate)
        // A tick is built only when one goes out: most messages (adds, cancels below the top) publish nothing.
        let origin = Origin(seq: seq, message: p, receiveTime: receiveTime)

        switch type {
        case UInt8(ascii: "A"), UInt8(ascii: "F"):
            guard check(length, type == UInt8(ascii: "A") ? 36 : 40) else { return }
            typealias O = ITCHOffsets.AddOrder
            let change = books.add(
                ref: p.bigEndianU64(at: O.orderRef), locate: locate, side: p.byte(at: O.side),
                price: p.bigEndianU32(at: O.price), shares: p.bigEndianU32(at: O.shares))
            // A reference already live, or an order of no shares: the feed is inconsistent.
            if !change.added { counters.unknownOrders.add() }
            if change.touchedTop { publishQuoteIfChanged(locate: locate, origin: origin, sink: &sink) }

        case UInt8(ascii: "E"):
            guard check(length, 31) else { return }
            typealias O = ITCHOffsets.OrderExecuted
            let shares = p.bigEndianU32(at: O.shares)
            guard let (order, touchedTop) = books.reduce(ref: p.bigEndianU64(at: O.orderRef), shares: shares) else {
                counters.unknownOrders.add()
                return
            }
            var tick = origin.tick(.trade, locate: order.locate)
            tick.price = order.price
            tick.shares = UInt64(shares)
            tick.matchNumber = p.bigEndianU64(at: O.matchNumber)
            emit(&tick, sink: &sink)
            if touchedTop { publishQuoteIfChanged(locate: order.locate, origin: origin, sink: &sink) }

        case UInt8(ascii: "C"):
            guard check(length, 36) else { return }
            typealias O = ITCHOffsets.OrderExecuted
            let shares = p.bigEndianU32(at: O.shares)
            guard let (order, touchedTop) = books.reduce(ref: p.bigEndianU64(at: O.orderRef), shares: shares) else {
                counters.unknownOrders.add()
                return
            }
            // Non-printable executions change the book but are not last-sale eligible: no trade tick.
            if p.byte(at: ITCHOffsets.OrderExecutedWithPrice.printable) == UInt8(ascii: "Y") {
                var tick = origin.tick(.trade, locate: order.locate)
                tick.price = p.bigEndianU32(at: ITCHOffsets.OrderExecutedWithPrice.price)
                tick.shares = UInt64(shares)
                tick.matchNumber = p.bigEndianU64(at: O.matchNumber)
                emit(&tick, sink: &sink)
            }
            if touchedTop { publishQuoteIfChanged(locate: order.locate, origin: origin, sink: &sink) }

        case UInt8(ascii: "X"):
            guard check(length, 23) else { return }
            typealias O = ITCHOffsets.OrderCancel
            guard
                let (order, touchedTop) = books.reduce(ref: p.bigEndianU64(at: O.orderRef), shares: p.bigEndianU32(at: O.shares))
            else {
                counters.unknownOrders.add()
                return
            }
            if touchedTop { publishQuoteIfChanged(locate: order.locate, origin: origin, sink: &sink) }

        case UInt8(ascii: "D"):
            guard check(length, 19) else { return }
            guard let (order, touchedTop) = books.delete(ref: p.bigEndianU64(at: ITCHOffsets.OrderDelete.orderRef)) else {
                counters.unknownOrders.add()
                return
            }
            if touchedTop { publishQuoteIfChanged(locate: order.locate, origin: origin, sink: &sink) }

        case UInt8(ascii: "U"):
            guard check(length, 35) else { return }
            typealias O = ITCHOffsets.OrderReplace
            guard let (old, removedTop) = books.delete(ref: p.bigEndianU64(at: O.originalRef)) else {
                counters.unknownOrders.add()
                return
            }
            // The new order inherits side and stock; the book's top may move twice but one quote tells the result.
            let added = books.add(
                ref: p.bigEndianU64(at: O.newRef), locate: old.locate, side: old.side,
                price: p.bigEndianU32(at: O.price), shares: p.bigEndianU32(at: O.shares))
            if removedTop || added.touchedTop { publishQuoteIfChanged(locate: old.locate, origin: origin, sink: &sink) }

        case UInt8(ascii: "P"):
            guard check(length, 44) else { return }
            typealias O = ITCHOffsets.Trade
            var tick = origin.tick(.trade, locate: locate)
            tick.side = p.byte(at: O.side)
            tick.price = p.bigEndianU32(at: O.price)
            tick.shares = UInt64(p.bigEndianU32(at: O.shares))
            tick.matchNumber = p.bigEndianU64(at: O.matchNumber)
            emit(&tick, sink: &sink)

        case UInt8(ascii: "Q"):
            guard check(length, 40) else { return }
            typealias O = ITCHOffsets.CrossTrade
            var tick = origin.tick(.trade, locate: locate)
            tick.price = p.bigEndianU32(at: O.price)
            tick.shares = p.bigEndianU64(at: O.shares)
            tick.matchNumber = p.bigEndianU64(at: O.matchNumber)
            emit(&tick, sink: &sink)

        case UInt8(ascii: "B"):
            guard check(length, 19) else { return }
            var tick = origin.tick(.tradeBreak, locate: locate)
            tick.matchNumber = p.bigEndianU64(at: ITCHOffsets.BrokenTrade.matchNumber)
            emit(&tick, sink: &sink)

        case UInt8(ascii: "R"):
            guard check(length, 39) else { return }
            books.addStock(locate: locate, symbol: p.symbol(at: ITCHOffsets.StockDirectory.stock))

        case UInt8(ascii: "S"):
            guard check(length, 12) else { return }
            emitStatus(
                origin.tick(.status, locate: locate), type: type, code: p.byte(at: ITCHOffsets.SystemEvent.eventCode), sink: &sink
            )

        case UInt8(ascii: "H"):
            guard check(length, 25) else { return }
            typealias O = ITCHOffsets.TradingAction
            var tick = origin.tick(.status, locate: locate)
            tick.reason = p.loadUnaligned(fromByteOffset: O.reasonCode, as: UInt32.self)
            emitStatus(tick, type: type, code: p.byte(at: O.tradingState), sink: &sink)

        case UInt8(ascii: "Y"):
            guard check(length, 20) else { return }
            emitStatus(origin.tick(.status, locate: locate), type: type, code: p.byte(at: ITCHOffsets.RegSHO.action), sink: &sink)

        case UInt8(ascii: "h"):
            guard check(length, 21) else { return }
            emitStatus(
                origin.tick(.status, locate: locate), type: type, code: p.byte(at: ITCHOffsets.OperationalHalt.action),
                sink: &sink)

        case UInt8(ascii: "W"):
            guard check(length, 12) else { return }
            emitStatus(
                origin.tick(.status, locate: locate), type: type, code: p.byte(at: ITCHOffsets.MWCBStatus.breachedLevel),
                sink: &sink)

        case UInt8(ascii: "K"):
            guard check(length, 28) else { return }
            emitStatus(
                origin.tick(.status, locate: locate), type: type, code: p.byte(at: ITCHOffsets.IPOQuoting.qualifier), sink: &sink)

        case UInt8(ascii: "J"):
            guard check(length, 35) else { return }
            emitStatus(origin.tick(.status, locate: locate), type: type, code: UInt8(ascii: " "), sink: &sink)

        case UInt8(ascii: "V"):
            guard check(length, 35) else { return }
            emitStatus(origin.tick(.status, locate: locate), type: type, code: UInt8(ascii: " "), sink: &sink)

        case UInt8(ascii: "L"), UInt8(ascii: "I"), UInt8(ascii: "N"), UInt8(ascii: "O"):
            // Decoded (dsi decode) but not part of the normalized stream yet.
            return

        default:
            counters.unknownMessages.add()
        }
    }

    /// Prefetches the order slot a message refers to or adds (A, F, E, C, X, D, U all carry a reference at offset 11).
    @inlinable
    public func prefetch(_ p: UnsafeRawPointer, length: Int) {
        guard length >= 19 else { return }
        switch p.byte(at: 0) {
        case UInt8(ascii: "E"), UInt8(ascii: "C"), UInt8(ascii: "X"), UInt8(ascii: "D"), UInt8(ascii: "A"), UInt8(ascii: "F"):
            books._orders.prefetch(p.bigEndianU64(at: ITCHOffsets.OrderDelete.orderRef))
        case UInt8(ascii: "U"):
            books._orders.prefetch(p.bigEndianU64(at: ITCHOffsets.OrderReplace.originalRef))
        default:
            break
        }
    }

    /// A new day: the directory, the orders and the books start empty.
    public mutating func sessionBegins(_ name: String, isFirst: Bool) {
        if !isFirst { self = Normalizer(expectedOrders: expectedOrders, counters: counters) }
    }

    /// Counts a message shorter than its type's layout; such a message is skipped.
    @inlinable @inline(__always)
    func check(_ length: Int, _ required: Int) -> Bool {
        if length >= required { return true }
        counters.shortMessages.add()
        return false
    }

    @inlinable @inline(__always)
    mutating func emit<Sink: TickSink>(_ tick: inout Tick, sink: inout Sink) {
        tick.stock = books.symbol(tick.stockLocate)
        counters.ticks.add()
        sink.publish(tick)
    }

    @inlinable
    mutating func emitStatus<Sink: TickSink>(_ status: Tick, type: UInt8, code: UInt8, sink: inout Sink) {
        var tick = status
        tick.statusType = type
        tick.statusCode = code
        emit(&tick, sink: &sink)
    }

    /// Publishes a quote tick for `tick.stockLocate` if its top of book differs from the last one published.
    @inlinable
    mutating func publishQuoteIfChanged<Sink: TickSink>(locate: UInt16, origin: Origin, sink: inout Sink) {
        let top = books.bbo(locate)
        let now = Quote(bidPrice: top.bidPrice, askPrice: top.askPrice, bidSize: top.bidSize, askSize: top.askSize)
        guard now != lastQuote[Int(locate)] else { return }
        lastQuote[Int(locate)] = now
        var tick = origin.tick(.quote, locate: locate)
        tick.bidPrice = now.bidPrice
        tick.bidSize = now.bidSize
        tick.askPrice = now.askPrice
        tick.askSize = now.askSize
        emit(&tick, sink: &sink)
    }
}

/// Where a message's ticks come from: its sequence number, the message (for its exchange time, read only when a tick
/// goes out) and receive time.
@usableFromInline
struct Origin {
    @usableFromInline let seq: UInt64
    @usableFromInline let message: UnsafeRawPointer
    @usableFromInline let receiveTime: UInt64

    @inlinable
    init(seq: UInt64, message: UnsafeRawPointer, receiveTime: UInt64) {
        self.seq = seq
        self.message = message
        self.receiveTime = receiveTime
    }

    /// A tick of `kind` for stock `locate`, every other field zero.
    @inlinable @inline(__always)
    func tick(_ kind: Tick.Kind, locate: UInt16) -> Tick {
        var t = Tick(kind: kind)
        t.seq = seq
        t.stockLocate = locate
        t.timestamp = message.bigEndianU48(at: ITCHOffsets.timestamp)  // the caller checked the message's length
        t.receiveTime = receiveTime
        return t
    }
}
