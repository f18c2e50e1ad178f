import DSICore
import DSIFeeds
import DSINet
import DSIPcap
import DSIRuntime
import DSITestSupport
import DSITools
import Foundation
import Testing

/// Mutation test of everything that reads a capture: damaged copies of real and generated captures (bytes flipped,
/// record and file headers overwritten with extreme values, cut short, bytes inserted) through the real `dsi decode`,
/// `dsi ticks` and `dsi replay`. None may crash or hang; each either succeeds or exits 1 with one `dsi: error:` line.
@Suite(.serialized) struct MutatedCaptureTests {
    /// Damaged captures per run: 100 in the suite; `DSI_MUTANTS=2000 swift test --filter MutatedCapture` for a campaign.
    static let mutants = ProcessInfo.processInfo.environment["DSI_MUTANTS"].flatMap { Int($0) } ?? 100

    /// Seed captures: generated on two lines with strays, the real NASDAQ capture (VLAN-tagged), and a pcapng copy.
    func seeds(_ dir: TemporaryDirectory) throws -> [[UInt8]] {
        let session = try SessionGenerator.generate(.init(messages: 400, seed: 41))
        var layout = CaptureFile.Layout()
        layout.lines = 2
        layout.drop = 0.1
        layout.faults.foreignPackets = 1
        layout.faults.wildPackets = 1
        try CaptureFile.write(session, to: dir.file("gen.pcap"), layout: layout)
        var paths = [
            dir.file("gen.pcap"), Commands.root + "/Fuzz/corpus/capture/nasdaq-vlan.pcap",
            Commands.root + "/Fuzz/corpus/capture/generated.pcapng",
        ]
        paths.removeAll { !FileManager.default.fileExists(atPath: $0) }
        return try paths.map { Array(try Data(contentsOf: URL(fileURLWithPath: $0))) }
    }

    /// One damaged copy of `base`, chosen by `random`.
    static func mutate(_ base: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
        var b = base
        func at(_ range: Range<Int>) -> Int { range.lowerBound + Int(random.next() % UInt64(max(1, range.count))) }
        let extremes: [[UInt8]] = [[0xFF, 0xFF, 0xFF, 0xFF], [0, 0, 0, 0], [0x80, 0, 0, 0], [0x7F, 0xFF, 0xFF, 0xFF]]
        switch random.next() % 6 {
        case 0:  // random bytes anywhere
            for _ in 0..<(1 + random.next() % 16) { b[at(0..<b.count)] = UInt8(truncatingIfNeeded: random.next()) }
        case 1:  // cut short
            b = Array(b.prefix(at(0..<b.count)))
        case 2:  // the first record's header: timestamp, captured and wire lengths
            let offset = at(24..<min(40, b.count - 4))
            b.replaceSubrange(offset..<offset + 4, with: extremes[at(0..<extremes.count)])
        case 3:  // the file header: magic, version, snap length, link type
            b[at(0..<min(24, b.count))] = UInt8(truncatingIfNeeded: random.next())
        case 4:  // bytes inserted: every later record is misaligned
            let offset = at(0..<b.count)
            b.insert(contentsOf: (0..<(1 + random.next() % 40)).map { _ in UInt8(truncatingIfNeeded: random.next()) }, at: offset)
        default:  // extreme 32-bit values in the middle (lengths, sequence numbers, counts)
            for _ in 0..<(1 + random.next() % 4) {
                let offset = at(0..<b.count - 4)
                b.replaceSubrange(offset..<offset + 4, with: extremes[at(0..<extremes.count)])
            }
        }
        return b
    }

    @Test func noDamagedCaptureCrashesHangsOrFailsSilently() throws {
        let dir = try TemporaryDirectory("dsi-mutants")
        defer { dir.remove() }
        let bases = try seeds(dir)
        #expect(bases.count == 3, "the committed seed captures are there")
        var random = SplitMix64(seed: 2026)
        let port = try FreePort.udp()
        var outcomes: [String: Int] = [:]
        for i in 0..<Self.mutants {
            let mutant = Self.mutate(bases[i % bases.count], &random)
            let path = dir.file("m\(i).pcap")
            try Data(mutant).write(to: URL(fileURLWithPath: path))
            for command in [
                // Both outputs face the damage: the JSON lines and the text made for people.
                ["decode", path, "--format", i % 2 == 0 ? "jsonl" : "text"],
                ["ticks", path, "--format", i % 2 == 0 ? "text" : "jsonl"],
                ["replay", path, "--topspeed", "--to", "239.255.7.7:\(port)", "--recovery-port", "0", "--linger", "0.1"],
                // Passes renumber damaged sequences and shift damaged times (a quarter of the mutants).
                i % 4 == 0
                    ? ["replay", path, "--pps", "100000", "--loop", "3", "--limit", "3000", "--to", "239.255.7.7:\(port)"]
                    : [],
            ] where !command.isEmpty {
                let result = try Commands.run(Commands.dsi, command, timeout: 30, environment: ["SWIFT_BACKTRACE": "enable=no"])
                let name = "\(command[0]) of mutant \(i)"
                #expect(result.status == 0 || result.status == 1, "\(name) died (\(result.status)): \(result.stderr.suffix(400))")
                if result.status == 1 {
                    let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("dsi: error: ") }
                    #expect(errors.count == 1, "\(name): a rejection is one line: \(result.stderr.suffix(400))")
                }
                outcomes["\(command[0]) \(result.status)", default: 0] += 1
            }
        }
        // Most damage is read past (skipped, counted); some files are refused outright. Both must happen here, or
        // the mutations are not reaching the reader.
        #expect(outcomes["decode 0", default: 0] > 10 && outcomes["decode 1", default: 0] > 5, "\(outcomes)")
    }

    @Test func inMemoryReaderSurvivesEveryMutantToo() throws {
        let dir = try TemporaryDirectory("dsi-mutants")
        defer { dir.remove() }
        let bases = try seeds(dir)
        var random = SplitMix64(seed: 7)
        var read = 0
        for i in 0..<600 {
            let mutant = Self.mutate(bases[i % bases.count], &random)
            guard let reader = try? PcapReader(bytes: mutant, name: "mutant") else { continue }
            var feed = FeedProcessor(expectedOrders: 1 << 10, policy: .capture)
            var sink = CollectingSink()
            var sequencing = CaptureSequencing(command: "mutant \(i)") { _ in }
            let datagrams = try sequencing.run(reader: reader, feed: &feed, sink: &sink)
            #expect(datagrams + reader.skipped.total == reader.frames, "every frame fed or counted: \(reader.summary)")
            read += 1
        }
        #expect(read > 150, "many mutants are readable in part")
    }
}
