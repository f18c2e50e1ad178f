import DSICore
import DSIFeeds
import DSINet
import DSIRuntime
import DSITestSupport
import DSITools
import Foundation
import Testing

/// Eight subscribers with different symbols, kinds and encodings, Swift's (`dsi subscribe`) and Python's
/// (tools/clients/python), four connected before a live replay over loopback multicast and TLS 1.3 and four during
/// it: each receives exactly what `dsi ticks --symbols --kinds` gives offline for the same capture, the late ones
/// after an image that is the offline stream's latest tick of each of their topics at the moment they joined.
@Suite(.serialized) struct SubscriberSelectionTests {
    struct Spec {
        var python: Bool
        var symbols: [String]?
        var kinds: String?
        var encoding: String
        var late: Bool

        var selectionArguments: [String] {
            (symbols.map { ["--symbols", $0.joined(separator: ",")] } ?? []) + (kinds.map { ["--kinds", $0] } ?? [])
        }
    }

    /// A tick as compared: the JSON object without what differs between live and offline (receive times) or marks
    /// an image, keys sorted.
    static func comparable(_ object: [String: Any]) throws -> String {
        var o = object
        o["receiveTime"] = 0
        o["image"] = nil
        return try canonical(o)
    }

    /// The topic an image entry stands for (status: per status type, as the publisher keeps them).
    static func imageKey(_ o: [String: Any]) -> String {
        let kind = o["kind"] as! String
        return "\(o["stockLocate"]!)/\(kind)/\(kind == "status" ? "\(o["status"]!)" : "")"
    }

    @Test func eightSubscribersEachReceiveTheirOfflineSelection() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var options = SessionGenerator.Options(messages: 30_000, seed: 21)
        options.symbols = 10
        try CaptureFile.write(try SessionGenerator.generate(options), to: dir.file("s.pcap"))
        let everything = try jsonLines(
            try Commands.run(Commands.dsi, ["ticks", dir.file("s.pcap"), "--feed", "live", "--format", "jsonl"]).stdout)
        let names = Array(Set(everything.compactMap { $0["stock"] as? String }.filter { !$0.isEmpty })).sorted()
        try #require(names.count >= 6)
        let specs = [
            Spec(python: false, symbols: [names[0]], kinds: "trade", encoding: "binary", late: false),
            Spec(python: true, symbols: [names[1]], kinds: "quote,trade", encoding: "binary", late: false),
            Spec(python: false, symbols: nil, kinds: "quote", encoding: "protobuf", late: false),
            Spec(python: true, symbols: nil, kinds: nil, encoding: "json", late: false),
            Spec(python: false, symbols: [names[0], names[1]], kinds: nil, encoding: "json", late: true),
            Spec(python: true, symbols: [names[2], names[3]], kinds: "trade,status", encoding: "protobuf", late: true),
            Spec(python: false, symbols: [names[4]], kinds: "status,tradeBreak,quote", encoding: "binary", late: true),
            Spec(python: true, symbols: [names[5], "NOSUCH"], kinds: "quote", encoding: "json", late: true),
        ]
        let live = try LiveFeed(dir: dir)
        let endpoint = "127.0.0.1:\(live.handler.port)"
        let ca = live.handler.certificate
        func start(_ spec: Spec) throws -> Commands.Running {
            if spec.python {
                return try Commands.start(
                    Commands.debianPython,
                    [Commands.pythonClient, endpoint, "--ca", ca, "--encoding", spec.encoding] + spec.selectionArguments)
            }
            return try Commands.start(
                Commands.dsi,
                ["subscribe", endpoint, "--ca", ca, "--encoding", spec.encoding, "--format", "jsonl"] + spec.selectionArguments)
        }
        func awaitRequests(_ n: UInt64) {
            let deadline = Date().addingTimeInterval(20)
            while live.handler.publisher.requestsTaken.load < n && Date() < deadline { usleep(2000) }
        }
        // The LiveFeed's own subscriber made one request; each of these makes at least one.
        var running: [Commands.Running] = []
        for spec in specs where !spec.late { running.append(try start(spec)) }
        awaitRequests(5)
        let replay = try Commands.start(
            Commands.dsi,
            ["replay", dir.file("s.pcap"), "--to", live.lines[0].description, "--to", live.lines[1].description, "--pps", "1500"])
        let third = UInt64(everything.count / 3)
        let deadline = Date().addingTimeInterval(30)
        while live.handler.ticksPublished < third && Date() < deadline { usleep(1000) }
        for spec in specs where spec.late { running.append(try start(spec)) }
        awaitRequests(9)
        let replayed = try replay.wait(timeout: 60)
        #expect(replayed.status == 0, "\(replayed.stderr)")
        let outcome = live.finish()
        #expect(outcome.counters["lostMessages"] == 0)
        let ordered = specs.filter { !$0.late } + specs.filter(\.late)
        var lateWithUpdatesAndImages = 0
        for (spec, process) in zip(ordered, running) {
            let result = try process.wait(timeout: 60)
            #expect(result.status == 0, "\(spec): \(result.stderr)")
            let got = try jsonLines(result.stdout)
            var offlineArguments = ["ticks", dir.file("s.pcap"), "--feed", "live", "--format", "jsonl"] + spec.selectionArguments
            let expected = try jsonLines(try Commands.run(Commands.dsi, offlineArguments).stdout)
            offlineArguments.removeAll()
            let images = got.filter { $0["image"] as? Bool == true }
            let updates = got.filter { $0["image"] as? Bool != true }
            let first = updates.first?["streamSeq"] as? Int ?? Int.max
            let expectedUpdates = expected.filter { ($0["streamSeq"] as! Int) >= first }
            let gotUpdates = try updates.map(Self.comparable), wantUpdates = try expectedUpdates.map(Self.comparable)
            let firstDifference = zip(gotUpdates, wantUpdates).enumerated().first { $0.element.0 != $0.element.1 }
            #expect(
                gotUpdates.count == wantUpdates.count && firstDifference == nil,
                "\(spec): \(gotUpdates.count) updates, \(wantUpdates.count) expected; first difference: \(String(describing: firstDifference))"
            )
            // What came before the first update is exactly what the images stand for: each topic's latest.
            var latest: [String: [String: Any]] = [:]
            for tick in expected where (tick["streamSeq"] as! Int) < first { latest[Self.imageKey(tick)] = tick }
            #expect(
                Set(try images.map(Self.comparable)) == Set(try latest.values.map(Self.comparable))
                    && images.count == latest.count,
                "\(spec): \(images.count) images, \(latest.count) topics before streamSeq \(first)")
            if !spec.late { #expect(images.isEmpty && first == expected.first?["streamSeq"] as? Int, "\(spec)") }
            if spec.late && !images.isEmpty && !updates.isEmpty { lateWithUpdatesAndImages += 1 }
            #expect(!got.isEmpty, "\(spec) received something")
        }
        #expect(lateWithUpdatesAndImages >= 3, "the late subscribers joined mid-stream: images, then updates")
    }
}
