import DSIFeeds
import DSIRuntime
import DSITestSupport
import DSITools
import Foundation
import Testing

/// `dsi ticks` against itch-book (an independent C++ book builder): trades, trade breaks and quote changes, in order,
/// field for field.
@Suite(.serialized) struct OracleTicksTests {
    static let fields: [String: [String]] = [
        "trade": ["stockLocate", "stock", "timestamp", "price", "shares", "matchNumber"],
        "tradeBreak": ["stockLocate", "timestamp", "matchNumber"],
        "quote": ["stockLocate", "stock", "timestamp", "bidPrice", "bidSize", "askPrice", "askSize"],
    ]

    func project(_ tick: [String: Any]) -> String? {
        guard let kind = tick["kind"] as? String, let keys = Self.fields[kind] else { return nil }
        return ([kind] + keys.map { "\(tick[$0] ?? "-")" }).joined(separator: "|")
    }

    /// `dsi ticks --config` applies the configuration's filters: only the named symbol's trades, plus loss reports.
    @Test func ticksHonourConfiguredFilters() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try CaptureFile.write(try SessionGenerator.generate(.init(messages: 5_000, seed: 2)), to: dir.file("s.pcap"))
        let config =
            try String(contentsOfFile: Commands.root + "/feeds/loopback.yaml", encoding: .utf8)
            + "filters:\n  - {symbols: [ZXA]}\n  - {kinds: [trade]}\n"
        try config.write(toFile: dir.file("f.yaml"), atomically: true, encoding: .utf8)
        let all = try jsonLines(try Commands.run(Commands.dsi, ["ticks", dir.file("s.pcap"), "--format", "jsonl"]).stdout)
        let result = try Commands.run(
            Commands.dsi, ["ticks", dir.file("s.pcap"), "--config", dir.file("f.yaml"), "--format", "jsonl"])
        #expect(result.status == 0, "\(result.stderr)")
        let kept = try jsonLines(result.stdout)
        let expected = all.filter { $0["kind"] as? String == "trade" && $0["stock"] as? String == "ZXA" }
        #expect(kept.count == expected.count && kept.count > 10)
        #expect(kept.map { $0["seq"] as? Int } == expected.map { $0["seq"] as? Int })
        #expect(kept.map { $0["streamSeq"] as? Int } == Array(1...kept.count).map { $0 }, "renumbered, gap-free")
        #expect(
            result.stderr.split(separator: "\n").contains {
                $0.split(separator: " ") == ["filtered", "\(all.count - kept.count)"]
            },
            "\(result.stderr)")
    }

    /// With a graph that branches, `--publish` picks the branch whose filters apply; an unknown one is refused.
    @Test func ticksFollowOneBranchOfAFanOut() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try CaptureFile.write(try SessionGenerator.generate(.init(messages: 5_000, seed: 2)), to: dir.file("s.pcap"))
        let config = Commands.root + "/feeds/fanout.yaml"
        let all = try jsonLines(try Commands.run(Commands.dsi, ["ticks", dir.file("s.pcap"), "--format", "jsonl"]).stdout)
        let quotes = try Commands.run(
            Commands.dsi, ["ticks", dir.file("s.pcap"), "--config", config, "--publish", "quotesOut", "--format", "jsonl"])
        #expect(quotes.status == 0, "\(quotes.stderr)")
        let expected = all.filter { $0["kind"] as? String == "quote" }
        let got = try jsonLines(quotes.stdout)
        #expect(got.count == expected.count && got.count > 10)
        #expect(got.map { $0["seq"] as? Int } == expected.map { $0["seq"] as? Int })
        let trades = try jsonLines(
            try Commands.run(Commands.dsi, ["ticks", dir.file("s.pcap"), "--config", config, "--format", "jsonl"]).stdout)
        #expect(
            !trades.isEmpty && trades.allSatisfy { $0["kind"] as? String == "trade" || $0["kind"] as? String == "tradeBreak" },
            "without --publish, the first branch")
        let unknown = try Commands.run(
            Commands.dsi, ["ticks", dir.file("s.pcap"), "--config", config, "--publish", "nope", "--format", "jsonl"])
        #expect(unknown.status != 0 && unknown.stderr.contains("no publish node 'nope'") && unknown.stderr.contains("quotesOut"))
    }

    @Test(arguments: [(UInt64(3), 20_000), (UInt64(17), 60_000)])
    func ticksMatchItchBook(seed: UInt64, messages: Int) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var options = SessionGenerator.Options(messages: messages, seed: seed)
        options.symbols = 12
        try CaptureFile.write(try SessionGenerator.generate(options), to: dir.file("s.pcap"))
        let ours = try Commands.run(Commands.dsi, ["ticks", dir.file("s.pcap"), "--format", "jsonl"])
        #expect(ours.status == 0, "\(ours.stderr)")
        let theirs = try Commands.run(
            Commands.python, [Commands.root + "/tools/oracles/itchbook_ticks.py", dir.file("s.pcap"), "30001"])
        #expect(theirs.status == 0, "itch-book oracle failed (run tools/setup.sh --test): \(theirs.stderr)")
        let a = try jsonLines(ours.stdout).compactMap(project)
        let b = try jsonLines(theirs.stdout).compactMap(project)
        #expect(a.count == b.count)
        #expect(a.count > 1000)
        let firstDifference = zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }
        #expect(
            firstDifference == nil,
            "first difference at \(firstDifference?.offset ?? -1): ours \(firstDifference?.element.0 ?? "") itch-book \(firstDifference?.element.1 ?? "")"
        )
        #expect(
            a.contains { $0.hasPrefix("tradeBreak|") } && a.contains { $0.hasPrefix("trade|") }
                && a.contains { $0.hasPrefix("quote|") })
    }
}
