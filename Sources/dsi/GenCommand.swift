import Glibc
import ArgumentParser
import DSICore
import DSIFeeds
import DSIRuntime

struct Gen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a synthetic, internally consistent ITCH 5.0 / MoldUDP64 session as a nanosecond pcap.")

    @Option(help: "Output pcap file.") var out: String
    @Option(help: "ITCH messages in the session (at least 8).") var messages = 100_000
    @Option(help: "Seed: the same seed gives the same session.") var seed: UInt64 = 1
    @Option(help: "Stocks in the directory.") var symbols = 8
    @Option(help: "Destination group:port written into the frames.") var group = "239.255.0.1:30001"
    @Option(help: "MoldUDP64 session name (10 characters at most).") var session = "DSI0000001"

    func validate() throws {
        guard messages >= 8 else { throw ValidationError("--messages must be at least 8") }
        guard symbols >= 1 && symbols <= 65_535 else { throw ValidationError("--symbols must be 1 to 65535") }
        guard let g = IPv4Endpoint(group), g.address.isMulticast else {
            throw ValidationError("--group must be a multicast group:port, got '\(group)'")
        }
        guard session.utf8.count <= 10 else { throw ValidationError("--session is at most 10 characters") }
    }

    func run() throws {
        var options = SessionGenerator.Options(messages: messages, seed: seed)
        options.symbols = symbols
        options.session = session
        let generated = try failing { try SessionGenerator.generate(options) }
        try failing { try CaptureFile.write(generated, to: out, group: IPv4Endpoint(group)!) }
        let types = generated.typeCounts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        FileHandleStderr.write("dsi gen: \(generated.messageCount) messages in \(generated.packets.count) packets to \(out) (\(types))\n")
    }
}
