import DSICore
import DSINet
import Testing

/// Entitlements as the publisher applies them: who a certificate is (its CN, its DNS subjectAltNames), what it may
/// take, and what a request becomes under them.
@Suite struct EntitlementTests {
    let table = Entitlements([
        .init(subject: "CN=alice", san: nil, allowed: TickSelection(symbols: ["AAPL", "MSFT"], kinds: [.trade, .quote])),
        .init(subject: nil, san: "risk.example", allowed: TickSelection(symbols: nil, kinds: .trade)),
        .init(subject: "CN=alice", san: nil, allowed: TickSelection(symbols: ["IBM"], kinds: .status)),
    ])

    @Test func certificatesAreMatchedByCommonNameOrSubjectAltName() {
        let alice = table.allowed(for: ClientIdentity(commonName: "alice", dnsNames: [])) ?? TickSelection()
        #expect(alice.kinds(of: Symbol("AAPL").raw) == TickSelection.Kinds([.trade, .quote]))
        #expect(alice.kinds(of: Symbol("IBM").raw) == TickSelection.Kinds.status, "the union of every entry naming her")
        #expect(alice.kinds(of: Symbol("ZXA").raw).isEmpty)
        let risk = table.allowed(for: ClientIdentity(commonName: "svc-7", dnsNames: ["x.example", "risk.example"]))
        #expect(risk?.everySymbol == TickSelection.Kinds.trade)
        #expect(table.allowed(for: ClientIdentity(commonName: "mallory", dnsNames: ["alice"])) == nil, "named by none")
        #expect(table.allowed(for: ClientIdentity(commonName: "Alice", dnsNames: [])) == nil, "names match exactly")
    }

    @Test func requestsAreGrantedOnlyWithinTheEntitlement() throws {
        let alice = try #require(table.allowed(for: ClientIdentity(commonName: "alice", dnsNames: [])))
        #expect(alice.granted(.trade, symbols: [Symbol("AAPL").raw]) == TickSelection(symbols: ["AAPL"], kinds: .trade))
        #expect(alice.granted([.trade, .status], symbols: [Symbol("AAPL").raw]) == nil, "a kind outside it")
        #expect(alice.granted(.trade, symbols: [Symbol("AAPL").raw, Symbol("ZXA").raw]) == nil, "a symbol outside it")
        // Every symbol becomes the entitled ones, with the kinds asked for that are allowed.
        let every = try #require(alice.granted(.all, symbols: nil))
        #expect(every.everySymbol.isEmpty)
        #expect(
            every.symbols == [
                Symbol("AAPL").raw: [.trade, .quote], Symbol("MSFT").raw: [.trade, .quote], Symbol("IBM").raw: .status,
            ])
        #expect(alice.granted(.tradeBreak, symbols: nil) == nil, "nothing of that kind is allowed anywhere")
        // A reload that narrows: what is kept of a subscription.
        let held = TickSelection(symbols: ["AAPL", "ZXA"], kinds: .all)
        #expect(held.restricted(to: alice) == TickSelection(symbols: ["AAPL"], kinds: [.trade, .quote]))
    }
}
