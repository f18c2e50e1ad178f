import ArgumentParser
import DSICore

/// `--symbols` and `--kinds`: a subscription as `dsi subscribe`, `dsi ticks` and `dsi journal` take it.
struct SelectionOptions: ParsableArguments {
    @Option(help: "Only these symbols (comma-separated; default: every symbol).") var symbols: String?
    @Option(help: "Only these kinds: trade,quote,status,tradeBreak (default: all).") var kinds: String?

    func validate() throws { _ = try selection() }

    /// The subscription the options describe (everything without them).
    func selection() throws -> TickSelection {
        var chosen = TickSelection.Kinds.all
        if let kinds {
            switch TickSelection.Kinds.parse(kinds) {
            case .success(let k) where !k.isEmpty: chosen = k
            case .success: throw ValidationError("--kinds names no kind")
            case .failure(let failure): throw ValidationError("--kinds: \(failure)")
            }
        }
        let names = symbols.map { $0.split(separator: ",").map { String($0) }.filter { !$0.isEmpty } }
        if let names, names.isEmpty { throw ValidationError("--symbols names no symbol") }
        return TickSelection(symbols: names, kinds: chosen)
    }
}
