import ArgumentParser
import DSICore
import DSIFeeds
import DSIRuntime
import DSITools
import Glibc

struct Gen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a synthetic, internally consistent ITCH 5.0 / MoldUDP64 session as a nanosecond pcap.")

    @Option(help: "Output pcap file.") var out: String
    @Option(help: "ITCH messages in the session (at least 8).") var messages = 100_000
    @Option(help: "Seed: the same seed gives the same session.") var seed: UInt64 = 1
    @Option(help: "Stocks in the directory.") var symbols = 8
    @Option(help: "Destination group:port written into the frames.") var group = "239.255.0.1:30001"
    @Option(help: "MoldUDP64 session name (10 characters at most).") var session = "DSI0000001"
    @Option(help: "Lines (A, B, ...) to write each packet on; line i goes to the group's last octet + i.") var lines = 1
    @Option(help: "Probability of dropping each copy of a packet on each line (0 to 1).") var drop = 0.0
    @Flag(help: "With --drop: never drop a packet from every line (only arbitration is needed to repair).") var keepOneCopy =
        false
    @Option(help: "How many milliseconds later each further line's copy leaves (a B line running behind A).") var lineSkewMs =
        Double(CaptureFile.Layout().lineSkewNanos) / 1e6
    @Option(help: "Fault injection: packets of another MoldUDP64 session at random points.") var straySessions = 0
    @Option(help: "Fault injection: packets with a sequence number implausibly far ahead (from 10^12).") var wildSequences = 0
    @Option(help: "Fault injection: probability that a copy is written twice.") var duplicate = 0.0
    @Option(help: "Fault injection: probability that a copy is written a few packets late.") var reorder = 0.0

    func validate() throws {
        guard messages >= 8 else { throw ValidationError("--messages must be at least 8") }
        guard symbols >= 1 && symbols <= 65_535 else { throw ValidationError("--symbols must be 1 to 65535") }
        guard let g = IPv4Endpoint(group), g.address.isMulticast else {
            throw ValidationError("--group must be a multicast group:port, got '\(group)'")
        }
        guard session.utf8.count <= 10 else { throw ValidationError("--session is at most 10 characters") }
        guard lines >= 1 && lines <= 8 else { throw ValidationError("--lines must be 1 to 8") }
        guard drop >= 0 && drop < 1 else { throw ValidationError("--drop must be at least 0 and below 1") }
        guard lineSkewMs >= 0 && lineSkewMs <= 10_000 else { throw ValidationError("--line-skew-ms must be 0 to 10000") }
        guard (0...1_000_000).contains(straySessions) && (0...1_000_000).contains(wildSequences) else {
            throw ValidationError("--stray-sessions and --wild-sequences must be 0 to 1000000")
        }
        guard duplicate >= 0 && duplicate < 1 && reorder >= 0 && reorder < 1 else {
            throw ValidationError("--duplicate and --reorder must be at least 0 and below 1")
        }
    }

    func run() throws {
        var options = SessionGenerator.Options(messages: messages, seed: seed)
        options.symbols = symbols
        options.session = session
        let generated = try failing { try SessionGenerator.generate(options) }
        var layout = CaptureFile.Layout()
        layout.group = IPv4Endpoint(group)!
        layout.lines = lines
        layout.drop = drop
        layout.seed = seed
        layout.keepOneCopy = keepOneCopy
        layout.lineSkewNanos = UInt64(lineSkewMs * 1e6)
        layout.faults.foreignPackets = straySessions
        layout.faults.wildPackets = wildSequences
        layout.faults.duplicate = duplicate
        layout.faults.reorder = reorder
        let report = try failing { try CaptureFile.write(generated, to: out, layout: layout) }
        let types = generated.typeCounts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        FileHandleStderr.write(
            "dsi gen: \(generated.messageCount) messages in \(generated.packets.count) packets to \(out) (\(types))\n")
        if lines > 1 || drop > 0 {
            let lost = report.droppedEverywhere.map {
                $0.count == 1 ? "\($0.first)" : "\($0.first)-\($0.first + UInt64($0.count) - 1)"
            }
            FileHandleStderr.write(
                "dsi gen: \(lines) lines, \(report.frames) frames, \(report.dropped) copies dropped; on no line: \(lost.isEmpty ? "none" : lost.joined(separator: " "))\n"
            )
        }
        if layout.faults.any {
            FileHandleStderr.write(
                "dsi gen: faults: \(report.strays) stray packets, \(report.duplicated) copies written twice, \(report.reordered) written late\n"
            )
        }
    }
}
