import ArgumentParser
import DSICore
import DSINet
import DSIRuntime

struct JournalPrint: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal",
        abstract: "Print a publisher's journal (a day's .dsij file) as JSON lines, for audit; report any damage.")

    @Argument(help: "The journal file (JOURNAL_DIR/YYYYMMDD.dsij).") var file: String
    @Option(help: "Only these symbols (comma-separated).") var symbols: String?
    @Option(help: "Only these kinds: trade,quote,status,tradeBreak.") var kinds: String?

    func run() throws {
        var chosen = TickSelection.Kinds.all
        if let kinds {
            switch TickSelection.Kinds.parse(kinds) {
            case .success(let k) where !k.isEmpty: chosen = k
            case .success: throw ValidationError("--kinds names no kind")
            case .failure(let failure): throw ValidationError("--kinds: \(failure)")
            }
        }
        let selection = TickSelection(symbols: symbols.map { $0.split(separator: ",").map(String.init) }, kinds: chosen)
        var count: UInt64 = 0, printed: UInt64 = 0
        let damage = try failing {
            try Journal.audit(path: file) { tick in
                count += 1
                if selection.admits(tick) {
                    print(tick.jsonLine)
                    printed += 1
                }
            }
        }
        FileHandleStderr.write("dsi journal: \(file): \(count) ticks (stream sequences 1...\(count)); \(printed) printed\n")
        if let damage {
            FileHandleStderr.write("dsi journal: \(file) \(damage)\n")
            throw ExitCode(3)
        }
    }
}
