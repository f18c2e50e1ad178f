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
    @Option(
        help: """
            The feed the capture is: its name labels every tick as `dsi run` labels them (1 to 8 characters). With \
            --config, which of its feeds (needed when it has several); default its only feed's name.
            """) var feed: String?
    /// What a subscriber would take: `--symbols`, `--kinds`.
    @OptionGroup var selection: SelectionOptions

    func validate() throws {
        guard format != .none else { throw ValidationError("--format is text or jsonl") }
        if let feed, !(1...8).contains(feed.utf8.count) || !feed.allSatisfy(\.isASCII) {
            throw ValidationError("--feed '\(feed)' is not a feed name (1 to 8 ASCII characters)")
        }
    }

    func run() throws {
        // A capture is all there is: a gap waits (for a later line's copy) until the end of the file, then is lost.
        var processor = FeedProcessor(expectedOrders: 1 << 20, policy: .capture)
        let (filter, name) = try failing { try Self.filter(config: config, publish: publish, feed: feed) }
        var printing = PrintingSink(selection: try selection.selection(), format: format)
        printing.feed = name.map { Symbol($0) } ?? Symbol(raw: 0)
        var sink = FilteringSink(inner: printing, filter: filter)
        var sequencing = CaptureSequencing(command: "dsi ticks") { FileHandleStderr.write($0 + "\n") }
        sequencing.progress = ProgressLine(label: "ticks", unit: "datagrams", style: .automatic(quiet: quiet))
        let reader = try failing { try sequencing.run(file: file, feed: &processor, sink: &sink) }
        var rows = [("capture", reader.summary)] + processor.counters.snapshot.filter { $0.1 > 0 }.map { ($0.0, "\($0.1)") }
        if sink.filtered.load > 0 { rows.append(("filtered", "\(sink.filtered.load)")) }
        FileHandleStderr.write(Table.render(title: "dsi ticks:", rows: rows))
    }
}

extension Ticks {
    /// The filters `feed`'s ticks meet on their way to publish node `publish` (or the first) in `config`, and the
    /// feed's name; without a config, no filters and `feed` as given.
    static func filter(config: String?, publish: String?, feed: String?) throws -> (TickFilter, String?) {
        guard let config else {
            if publish != nil { throw ValidationError("--publish needs --config") }
            return (TickFilter(), feed)
        }
        let validated = try HandlerConfig.load(path: config)
        var branch = validated.graph.branches[0]
        if let publish {
            guard let named = validated.graph.branch(publish) else {
                let names = validated.graph.branches.map(\.publish).joined(separator: ", ")
                throw ValidationError("\(config): no publish node '\(publish)' (the graph's: \(names))")
            }
            branch = named
        }
        let names = validated.feeds.map(\.name)
        guard let feed else {
            guard validated.feeds.count == 1 else {
                throw ValidationError(
                    "\(config) has several feeds (\(names.joined(separator: ", "))): --feed names the capture's")
            }
            return (validated.filter(of: branch), names[0])
        }
        guard let f = names.firstIndex(of: feed) else {
            throw ValidationError("\(config): no feed '\(feed)' (its feeds: \(names.joined(separator: ", ")))")
        }
        guard let path = branch.paths.first(where: { $0.feed == f }) else {
            throw ValidationError("\(config): feed '\(feed)' does not reach publish node '\(branch.publish)'")
        }
        return (TickFilter(path.pipelineFilter.conditions + path.publisherFilter.conditions), feed)
    }
}

/// Prints each tick a subscription takes (as a text or JSON line), numbering the stream and its topics as the publisher would
/// (every tick is numbered; the selection only chooses what is printed, as it chooses what a subscriber receives).
struct PrintingSink: TickSink {
    let selection: TickSelection
    let format: OutputFormat
    /// The name every tick carries (zero: none).
    var feed = Symbol(raw: 0)
    var next: UInt64 = 1
    let topics = TopicSequencer()

    init(selection: TickSelection, format: OutputFormat = .jsonl) {
        self.selection = selection
        self.format = format
    }

    mutating func publish(_ tick: Tick) {
        var t = tick
        t.feed = feed
        t.streamSeq = next
        next += 1
        topics.number(&t)
        if selection.admits(t) { print(format == .text ? TextLines.tick(t) : t.jsonLine) }
    }
}
