import DSICore

/// The latest state of every symbol, kept from the ticks as they are published: what a new subscriber receives
/// first, as image ticks (best bid and ask with sizes, last trade, last trade break, trading status).
///
/// Each entry is the tick as published (its `streamSeq` and `topicSeq` too), so a subscriber learns from the image
/// where each of its topics stands, and checks the updates that follow against it.
struct ImageStore {
    struct SymbolImage {
        var symbol: UInt64
        var quote: Tick?
        var trade: Tick?
        var tradeBreak: Tick?
        /// The latest status tick of each status type (trading action, Reg SHO, halt, LULD, IPO; for the market:
        /// system event, circuit breakers, and the stream's last gap and join).
        var statuses: [Tick] = []
    }

    /// Images by stock locate (index + 1 into `images`; 0: none yet).
    private var slots = [Int32](repeating: 0, count: 65_536)
    private(set) var images: [SymbolImage] = []
    /// Symbol (raw alpha8) to its image.
    private var bySymbol: [UInt64: Int] = [:]

    /// Keeps `tick` as its topic's latest.
    @inline(__always)
    mutating func record(_ tick: Tick) {
        let locate = tick.isIntegrityReport ? 0 : Int(tick.stockLocate)
        var at = Int(slots[locate]) - 1
        if at < 0 {
            at = images.count
            images.append(SymbolImage(symbol: locate == 0 ? 0 : tick.stock.raw))
            slots[locate] = Int32(at + 1)
            if locate != 0 { bySymbol[tick.stock.raw] = at }
        }
        switch tick.kind {
        case .quote: images[at].quote = tick
        case .trade: images[at].trade = tick
        case .tradeBreak: images[at].tradeBreak = tick
        case .status:
            if let i = images[at].statuses.firstIndex(where: { $0.statusType == tick.statusType }) {
                images[at].statuses[i] = tick
            } else {
                images[at].statuses.append(tick)
            }
        }
    }

    /// The image ticks of `symbols` (every symbol seen when nil) for `kinds`, and the market's when `market` is set
    /// (status entries only if `kinds` has status; the stream's reports always), flagged as images, in stream order
    /// per symbol.
    func entries(symbols: [UInt64]?, kinds: TickSelection.Kinds, market: Bool) -> [Tick] {
        var out: [Tick] = []
        func add(_ image: SymbolImage, marketWide: Bool) {
            var ticks: [Tick] = []
            for status in image.statuses where (marketWide && status.isIntegrityReport) || kinds.contains(.status) {
                ticks.append(status)
            }
            if kinds.contains(.quote), let t = image.quote { ticks.append(t) }
            if kinds.contains(.trade), let t = image.trade { ticks.append(t) }
            if kinds.contains(.tradeBreak), let t = image.tradeBreak { ticks.append(t) }
            ticks.sort { $0.streamSeq < $1.streamSeq }
            for var t in ticks {
                t.flags |= Tick.Flags.image
                out.append(t)
            }
        }
        if market, slots[0] > 0 { add(images[Int(slots[0]) - 1], marketWide: true) }
        if let symbols {
            for symbol in symbols { if let at = bySymbol[symbol] { add(images[at], marketWide: false) } }
        } else {
            for image in images where image.symbol != 0 { add(image, marketWide: false) }
        }
        return out
    }
}
