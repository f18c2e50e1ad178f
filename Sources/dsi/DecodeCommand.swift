import Glibc
import ArgumentParser
import DSICore
import DSIFeeds
import DSIPcap

struct Decode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print every ITCH message of every MoldUDP64 packet in a capture, in sequence order, once.")

    @Argument(help: "The pcap or pcapng file.") var file: String
    @Option(help: "Output format: jsonl.") var format = "jsonl"

    func validate() throws {
        guard format == "jsonl" else { throw ValidationError("--format: only jsonl is supported") }
    }

    func run() throws {
        var tracker = SequenceTracker()
        var unknown = 0, malformed = 0, duplicates = 0
        let reader = try failing { try PcapReader(path: file) }
        try failing {
            try reader.forEachDatagram { datagram in
                guard let base = datagram.payload.baseAddress,
                      let packet = MoldUDP64Packet(base, length: datagram.payload.count), packet.blocksAreWellFormed else {
                    malformed += 1
                    return
                }
                let count = packet.messageCount
                var skip = 0
                switch tracker.track(first: packet.sequence, count: count) {
                case .duplicate: duplicates += count; return
                case .accept(let already): skip = already; duplicates += already
                case .gap(let first, let last): print("{\"event\":\"gap\",\"from\":\(first),\"to\":\(last)}")
                }
                let session = packet.session
                packet.forEachMessage { index, message, length in
                    guard index >= skip else { return }
                    if let line = ITCHJSON.line(session: session, seq: packet.sequence + UInt64(index), message: message, length: length) {
                        print(line)
                    } else {
                        unknown += 1
                    }
                }
            }
        }
        FileHandleStderr.write("dsi decode: \(reader.summary); \(malformed) not MoldUDP64, \(duplicates) duplicate messages, \(unknown) unknown or short messages\n")
    }
}
