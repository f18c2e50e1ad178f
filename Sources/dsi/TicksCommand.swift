import ArgumentParser
import DSICore
import DSIFeeds
import DSIPcap
import DSIRuntime
import DSITools
import Glibc

struct Ticks: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the ticks the live pipeline would publish for a capture.")

    @Argument(help: "The pcap or pcapng file.") var file: String
    @Option(help: OutputFormat.help(withNone: false)) var format = OutputFormat.text
    @Flag(help: "No progress line.") var quiet = false
    @Option(help: "A handler configuration whose filters apply (as `dsi run` would).") var config: String?
    @Option(help: "With a graph that branches: the publish node whose filters apply (default: the first).") var publish: String?
    /// What a subscriber would take: `--symbols`, `--kinds`.
    @OptionGroup var selection: SelectionOptions

    func validate() throws {
        guard format != .none else { throw ValidationError("--format is text or jsonl") }
    }

    func run() throws {
        // A capture is all there is: a gap waits (for a later line's copy) until the end of the file, then is lost.
        var processor = FeedProcessor(expectedOrders: 1 << 20, policy: .capture)
        let filter = try failing { try Self.filter(config: config, publish: publish) }
        var sink = FilteringSink(inner: PrintingSink(selection: try selection.selection(), format: format), filter: filter)
        var sequencing = CaptureSequencing(command: "dsi ticks") { FileHandleStderr.write($0 + "\n") }
        sequencing.progress = ProgressLine(label: "ticks", unit: "datagrams", style: .automatic(quiet: quiet))
        let reader = try failing { try sequencing.run(file: file, feed: &processor, sink: &sink) }
        var rows = [("capture", reader.summary)] + processor.counters.snapshot.filter { $0.1 > 0 }.map { ($0.0, "\($0.1)") }
        if sink.filtered.load > 0 { rows.append(("filtered", "\(sink.filtered.load)")) }
        FileHandleStderr.write(Table.render(title: "dsi ticks:", rows: rows))
    }
}

extension Ticks {
    /// The filters of the branch ending at `publish` (or the first branch) in `config`; none without a config.
    static func filter(config: String?, publish: String?) throws -> TickFilter {
        guard let config else {
            if publish != nil { throw ValidationError("--publish needs --config") }
            return TickFilter()
        }
        let validated = try HandlerConfig.load(path: config)
        guard let publish else { return validated.filter }
        guard let branch = validated.graph.branch(publish) else {
            let names = validated.graph.branches.map(\.publish).joined(separator: ", ")
            throw ValidationError("\(config): no publish node '\(publish)' (the graph's: \(names))")
        }
        return validated.filter(of: branch)
    }
}

/// Prints each tick a subscription takes (as a text or JSON line), numbering the stream and its topics as the publisher would
/// (every tick is numbered; the selection only chooses what is printed, as it chooses what a subscriber receives).
struct PrintingSink: TickSink {
    let selection: TickSelection
    let format: OutputFormat
    var next: UInt64 = 1
    let topics = TopicSequencer()

    init(selection: TickSelection, format: OutputFormat = .jsonl) {
        self.selection = selection
        self.format = format
    }

    mutating func publish(_ tick: Tick) {
        var t = tick
        t.streamSeq = next
        next += 1
        topics.number(&t)
        if selection.admits(t) { print(format == .text ? TextLines.tick(t) : t.jsonLine) }
    }
}
