import DSICore
import DSIFeeds
import DSIRuntime
import DSITestSupport
import DSITools
import Foundation
import Testing

/// `dsi decode` against tshark (MoldUDP64 framing) + itchfeed (ITCH 5.0 fields): tools nobody on DSI wrote.
@Suite(.serialized) struct OracleDecodeTests {
    func compare(capture: String, port: Int) throws {
        let ours = try Commands.run(Commands.dsi, ["decode", capture, "--format", "jsonl"])
        #expect(ours.status == 0, "\(ours.stderr)")
        let theirs = try Commands.run(
            Commands.python, [Commands.root + "/tools/oracles/itchfeed_decode.py", capture, String(port)])
        #expect(theirs.status == 0, "oracle failed (run tools/setup.sh --test): \(theirs.stderr)")
        let a = ours.stdout.split(separator: "\n")
        let b = theirs.stdout.split(separator: "\n")
        #expect(a.count == b.count)
        #expect(a.count > 0)
        var mismatches = 0
        for (x, y) in zip(a, b) {
            let mine = try JSONSerialization.jsonObject(with: Data(x.utf8)) as! [String: Any]
            let oracle = try JSONSerialization.jsonObject(with: Data(y.utf8)) as! [Any]
            // Our object's values in key order must equal the oracle's positional list.
            let values: [Any] = mine["event"] != nil ? ["gap", mine["from"]!, mine["to"]!] : orderedValues(String(x))
            if !equal(values, oracle) {
                mismatches += 1
                if mismatches < 5 { Issue.record("mismatch:\n ours   \(x)\n oracle \(y)") }
            }
        }
        #expect(mismatches == 0)
    }

    /// JSON object values in document order (JSONSerialization's dictionaries lose it).
    func orderedValues(_ line: String) -> [Any] {
        var values: [Any] = []
        var rest = Substring(line.dropFirst().dropLast())
        while !rest.isEmpty {
            guard let colon = rest.firstIndex(of: ":") else { break }
            rest = rest[rest.index(after: colon)...]
            if rest.first == "\"" {
                let end = rest.dropFirst().firstIndex(of: "\"")!
                values.append(String(rest[rest.index(after: rest.startIndex)..<end]))
                rest = rest[rest.index(after: end)...]
            } else {
                let end = rest.firstIndex(of: ",") ?? rest.endIndex
                values.append(Int(rest[..<end])!)
                rest = rest[end...]
            }
            if rest.first == "," { rest = rest.dropFirst() }
        }
        return values
    }

    func equal(_ a: [Any], _ b: [Any]) -> Bool {
        guard a.count == b.count else { return false }
        for (x, y) in zip(a, b) {
            switch (x, y) {
            case let (x as Int, y as Int): if x != y { return false }
            case let (x as String, y as String): if x != y { return false }
            case let (x as Int, y as NSNumber): if x != y.intValue { return false }
            default: return false
            }
        }
        return true
    }

    @Test func generatedSessionWithAllTypesMatchesItchfeed() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let session = try SessionGenerator.generate(.init(messages: 20_000, seed: 21))
        #expect(session.typeCounts.count == 23)
        try CaptureFile.write(session, to: dir.file("s.pcap"))
        try compare(capture: dir.file("s.pcap"), port: 30001)
    }

    @Test func realNasdaqCaptureMatchesItchfeed() throws {
        try compare(
            capture: Commands.root + "/../shared/data/pcaps/Nasdaq_Nasdaq.Equities.TotalView.Itch.v5.0_Multiple.Packets.pcap",
            port: 26477)
    }
}
