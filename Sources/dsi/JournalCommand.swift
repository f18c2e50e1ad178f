import ArgumentParser
import DSICore
import DSINet
import DSIRuntime

struct JournalPrint: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal",
        abstract: "Print a publisher's journal (a day's .dsij file) as JSON lines, for audit; report any damage.")

    @Argument(help: "The journal file (JOURNAL_DIR/YYYYMMDD.dsij).") var file: String
    @OptionGroup var only: SelectionOptions

    func run() throws {
        let selection = try only.selection()
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
