import ArgumentParser
import DSICore
import DSIFeeds
import DSIPcap
import DSIRuntime
import DSITools
import Glibc

struct Decode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print every ITCH message of every MoldUDP64 packet in a capture, in sequence order, once.")

    @Argument(help: "The pcap or pcapng file.") var file: String
    @Option(help: OutputFormat.help(withNone: false)) var format = OutputFormat.text
    @Flag(help: "No progress line.") var quiet = false

    func validate() throws {
        guard format != .none else { throw ValidationError("--format is text or jsonl") }
    }

    func run() throws {
        // The live pipeline's sequencing: A/B copies merged (first arrival wins), a gap waits for a later line's copy
        // until the capture ends (or the holding store fills), and only then prints as lost.
        let counters = FeedCounters()
        var feed = SequencedFeed(consumer: MessagePrinter(format: format), counters: counters, policy: .capture)
        var sink = GapPrinter(format: format)
        var sequencing = CaptureSequencing(command: "dsi decode") { FileHandleStderr.write($0 + "\n") }
        sequencing.progress = ProgressLine(label: "decode", unit: "datagrams", style: .automatic(quiet: quiet))
        let reader = try failing { try sequencing.run(file: file, feed: &feed, sink: &sink) }
        var rows: [(String, String)] = [
            ("capture", reader.summary), ("not MoldUDP64", "\(counters.malformedPackets.load) packets"),
            ("duplicates", "\(counters.duplicateMessages.load) messages"),
            ("unknown or short", "\(feed.consumer.undecodable) messages"),
        ]
        if let strays = Self.strays(counters) { rows.append(("strays dropped", strays)) }
        FileHandleStderr.write(Table.render(title: "dsi decode:", rows: rows))
    }

    /// The stray packets a capture held, for the summary (nil when there were none).
    static func strays(_ c: FeedCounters) -> String? {
        let parts = [
            ("of other sessions", c.foreignSessionPackets.load), ("implausibly far ahead", c.implausiblePackets.load),
            ("beyond the session's end", c.beyondEndPackets.load), ("of a session already left", c.staleSessionPackets.load),
        ]
        .filter { $0.1 > 0 }.map { "\($0.1) packets \($0.0)" }
        return parts.isEmpty ? nil : parts.joined(separator: ", ")
    }
}

/// Prints each message as its JSON line (`ITCHJSON`) or the text line made from it, numbered by its sequence; counts
/// what it cannot decode.
struct MessagePrinter: MessageConsumer {
    let format: OutputFormat
    var session = ""
    var undecodable = 0

    init(format: OutputFormat) { self.format = format }

    mutating func handle<Sink: TickSink>(_ p: UnsafeRawPointer, length: Int, seq: UInt64, receiveTime: UInt64, sink: inout Sink) {
        if let line = ITCHJSON.line(session: session, seq: seq, message: p, length: length) {
            print(format == .text ? TextLines.message(json: line) : line)
        } else {
            undecodable += 1
        }
    }

    mutating func sessionBegins(_ name: String, isFirst: Bool) { session = name }
}

/// Prints lost ranges in the decode form: `{"event":"gap","from":FIRST,"to":LAST}`, or as text.
struct GapPrinter: TickSink {
    let format: OutputFormat

    mutating func publish(_ tick: Tick) {
        if tick.kind == .status && tick.statusType == Tick.gapStatusType {
            print(
                format == .text
                    ? "     gap  messages \(tick.gapFirst)-\(tick.gapLast) lost"
                    : "{\"event\":\"gap\",\"from\":\(tick.gapFirst),\"to\":\(tick.gapLast)}")
        }
    }
}
