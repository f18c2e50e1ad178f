/// Which ticks a subscriber takes: kinds per symbol, and kinds of every symbol. The one definition of a selection,
/// used by the publisher (what it sends), the client (what it expects) and `dsi ticks --symbols --kinds` (offline).
///
/// Two kinds of tick are not about one symbol and follow their own rule: reports on the stream itself (gaps, a late
/// join) reach every selection that takes anything, so no subscriber misses a loss; market-wide status (stock locate
/// 0: system events, circuit breakers) reaches every selection that takes status ticks of any symbol.
public struct TickSelection: Sendable, Equatable {
    /// Kinds as bits: `1 << (kind.rawValue - 1)`.
    public struct Kinds: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public init(_ kind: Tick.Kind) { rawValue = 1 << (kind.rawValue - 1) }
        public init(_ kinds: some Sequence<Tick.Kind>) { self = Kinds(kinds.map(Kinds.init)) }

        public static let trade = Kinds(.trade)
        public static let quote = Kinds(.quote)
        public static let status = Kinds(.status)
        public static let tradeBreak = Kinds(.tradeBreak)
        public static let all: Kinds = [.trade, .quote, .status, .tradeBreak]

        @inlinable public func contains(_ kind: Tick.Kind) -> Bool { rawValue & (1 << (kind.rawValue - 1)) != 0 }
        public var names: [String] { Tick.Kind.allCases.filter(contains).map(\.name) }

        /// `trade,quote,…` (as the command line gives them); nil names the first word that is not a kind.
        public static func parse(_ text: String) -> Result<Kinds, ParseFailure> {
            var kinds: Kinds = []
            for word in text.split(separator: ",").map({ $0.trimmingWhitespace }) where !word.isEmpty {
                guard let kind = Tick.Kind(name: word) else { return .failure(ParseFailure(word: word)) }
                kinds.insert(Kinds(kind))
            }
            return .success(kinds)
        }

        public struct ParseFailure: Error, CustomStringConvertible {
            public let word: String
            public var description: String {
                "'\(word)' is not a tick kind (\(Tick.Kind.allCases.map(\.name).joined(separator: ", ")))"
            }
        }
    }

    /// Kinds taken for every symbol.
    public var everySymbol: Kinds
    /// Kinds taken for these symbols (raw alpha8), beyond `everySymbol`.
    public var symbols: [UInt64: Kinds]

    public init(everySymbol: Kinds = [], symbols: [UInt64: Kinds] = [:]) {
        self.everySymbol = everySymbol
        self.symbols = symbols
    }

    /// Every tick of `kinds` for `symbols`, or of every symbol when `symbols` is nil.
    public init(symbols names: [String]?, kinds: Kinds) {
        self.init()
        if let names { add(kinds, symbols: names.map { Symbol($0).raw }) } else { everySymbol = kinds }
    }

    /// Everything.
    public static let all = TickSelection(everySymbol: .all)

    public var isEmpty: Bool { everySymbol.isEmpty && symbols.isEmpty }

    /// Whether any symbol's status ticks are taken (then market-wide status is too).
    public var takesStatus: Bool { everySymbol.contains(.status) || symbols.values.contains { $0.contains(.status) } }

    /// Adds `kinds` for `symbols` (every symbol when nil).
    public mutating func add(_ kinds: Kinds, symbols list: [UInt64]?) {
        guard let list else {
            everySymbol.formUnion(kinds)
            return
        }
        for symbol in list { symbols[symbol, default: []].formUnion(kinds) }
    }

    /// Removes `kinds` from `symbols`; with nil, from every symbol, the named ones included.
    public mutating func remove(_ kinds: Kinds, symbols list: [UInt64]?) {
        let targets = list ?? Array(symbols.keys)
        if list == nil { everySymbol.subtract(kinds) }
        for symbol in targets {
            guard var k = symbols[symbol] else { continue }
            k.subtract(kinds)
            symbols[symbol] = k.isEmpty ? nil : k
        }
    }

    /// The kinds taken for `symbol`.
    @inlinable public func kinds(of symbol: UInt64) -> Kinds { everySymbol.union(symbols[symbol] ?? []) }

    /// Whether the selection takes `tick`.
    @inlinable
    public func admits(_ tick: Tick) -> Bool {
        if tick.isIntegrityReport { return !isEmpty }
        if tick.stockLocate == 0 && tick.kind == .status { return takesStatus }
        return kinds(of: tick.stock.raw).contains(tick.kind)
    }
}

extension Substring {
    var trimmingWhitespace: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
