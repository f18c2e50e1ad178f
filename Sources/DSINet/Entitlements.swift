import DSICore

/// What each client may receive, by its certificate: symbols and kinds per subject (`CN=NAME`) or subjectAltName.
/// A client no entry names gets nothing (it is refused at login).
public struct Entitlements: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        /// `CN=NAME`, matched against the certificate's common name; or a DNS subjectAltName.
        public var subject: String?
        public var san: String?
        /// What it may take.
        public var allowed: TickSelection

        public init(subject: String?, san: String?, allowed: TickSelection) {
            self.subject = subject
            self.san = san
            self.allowed = allowed
        }

        func matches(_ identity: ClientIdentity) -> Bool {
            if let subject, subject.hasPrefix("CN="), String(subject.dropFirst(3)) == identity.commonName { return true }
            if let san, identity.dnsNames.contains(san) { return true }
            return false
        }

        public var name: String { subject ?? "SAN \(san ?? "?")" }
    }

    public var entries: [Entry]

    public init(_ entries: [Entry]) { self.entries = entries }

    /// What `identity` may take: the union of every entry that names it; nil when none does.
    public func allowed(for identity: ClientIdentity) -> TickSelection? {
        let matching = entries.filter { $0.matches(identity) }
        guard !matching.isEmpty else { return nil }
        var union = TickSelection()
        for entry in matching {
            union.add(entry.allowed.everySymbol, symbols: nil)
            for (symbol, kinds) in entry.allowed.symbols { union.add(kinds, symbols: [symbol]) }
        }
        return union
    }
}

extension TickSelection {
    /// What this selection, as an entitlement, grants of a request for `kinds` of `symbols` (every symbol when nil):
    /// nil when the request names a symbol or kind outside it. A request for every symbol from a client entitled to
    /// some becomes a request for those.
    public func granted(_ kinds: Kinds, symbols list: [UInt64]?) -> TickSelection? {
        if let list {
            for symbol in list where !self.kinds(of: symbol).isSuperset(of: kinds) { return nil }
            var grant = TickSelection()
            grant.add(kinds, symbols: list)
            return grant
        }
        var grant = TickSelection(everySymbol: everySymbol.intersection(kinds))
        for (symbol, k) in symbols {
            let extra = k.intersection(kinds).subtracting(grant.everySymbol)
            if !extra.isEmpty { grant.symbols[symbol] = extra }
        }
        return grant.isEmpty ? nil : grant
    }

    /// This selection with `other` added.
    public mutating func add(_ other: TickSelection) {
        everySymbol.formUnion(other.everySymbol)
        for (symbol, kinds) in other.symbols { symbols[symbol, default: []].formUnion(kinds) }
    }

    /// The part of this selection `allowed` permits.
    public func restricted(to allowed: TickSelection) -> TickSelection {
        var out = TickSelection(everySymbol: everySymbol.intersection(allowed.everySymbol))
        for symbol in Set(symbols.keys).union(allowed.symbols.keys) {
            let k = kinds(of: symbol).intersection(allowed.kinds(of: symbol)).subtracting(out.everySymbol)
            if !k.isEmpty { out.symbols[symbol] = k }
        }
        return out
    }
}
