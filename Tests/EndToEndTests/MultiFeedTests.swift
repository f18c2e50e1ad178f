import DSIFeeds
import DSITestSupport
import DSITools
import Foundation
import Testing

/// Two feeds in one `dsi run`, on workers of their own, each to its own publisher, replayed at once: each publisher's
/// stream equals `dsi ticks` on that feed's capture (with the feed's path filters), every tick naming its feed, as read
/// by DSI's subscriber and by the Python client (an implementation DSI's Swift code is not).
@Suite(.serialized) struct MultiFeedTests {
    @Test func twoFeedsReplayedTogetherEachEqualItsCapture() throws {
        let dir = try TemporaryDirectory("dsi-feeds")
        defer { dir.remove() }
        for (name, seed) in [("alpha", 31), ("beta", 32)] {
            var options = SessionGenerator.Options(messages: 20_000, seed: UInt64(seed))
            options.symbols = 6
            try CaptureFile.write(try SessionGenerator.generate(options), to: dir.file("\(name).pcap"))
        }
        let (mcastA, mcastB) = (try FreePort.udp(), try FreePort.udp())
        let (tlsA, tlsB) = (try FreePort.tcp(), try FreePort.tcp())
        try """
        feeds:
          - name: alpha
            protocol: moldudp64-itch50
            interface: 127.0.0.1
            lines: [{name: A, group: "239.255.0.1:\(mcastA)"}, {name: B, group: "239.255.0.2:\(mcastA)"}]
            maxOrders: 100000
          - name: beta
            protocol: moldudp64-itch50
            interface: 127.0.0.1
            lines: [{name: A, group: "239.255.1.1:\(mcastB)"}, {name: B, group: "239.255.1.2:\(mcastB)"}]
            maxOrders: 100000
        publisher:
          listen: 127.0.0.1:\(tlsA)
        graph:
          - {name: alpha, kind: feed}
          - {name: beta, kind: feed}
          - {name: betaTrades, kind: filter, input: beta, options: {kinds: [trade, status]}}
          - {name: alphaOut, kind: publish, input: alpha}
          - {name: betaOut, kind: publish, input: betaTrades, options: {listen: "127.0.0.1:\(tlsB)"}}
        workers:
          - {name: wa, cpu: 0, idle: backoff, nodes: [alpha]}
          - {name: wb, cpu: 1, idle: backoff, nodes: [beta, betaTrades]}
          - {name: wp, cpu: 1, idle: backoff, nodes: [alphaOut, betaOut]}
        """.write(toFile: dir.file("run.yaml"), atomically: true, encoding: .utf8)

        // What each publisher must send: its feed's capture through that feed's path, as `dsi ticks` makes it.
        var messages: [String: String] = [:]
        func offline(_ feed: String, _ publish: String) throws -> [[String: Any]] {
            let out = try Commands.run(
                Commands.dsi,
                [
                    "ticks", dir.file("\(feed).pcap"), "--config", dir.file("run.yaml"), "--feed", feed, "--publish", publish,
                    "--format", "jsonl",
                ])
            try #require(out.status == 0, "\(out.stderr)")
            messages[feed] = out.stderr.firstMatch(of: /messages\s+(\d+)/).map { String($0.output.1) }
            return try jsonLines(out.stdout)
        }
        let wantA = try offline("alpha", "alphaOut"), wantB = try offline("beta", "betaOut")
        #expect(wantA.allSatisfy { $0["feed"] as? String == "alpha" } && wantB.allSatisfy { $0["feed"] as? String == "beta" })
        #expect(wantB.allSatisfy { ["trade", "status"].contains($0["kind"] as? String) } && wantB.count < wantA.count)

        let run = try Commands.start(
            Commands.dsi, ["run", "--config", dir.file("run.yaml")], environment: ["DSI_STATE_DIR": dir.path])
        try EndToEndTests().waitForListening(tlsA, run)
        try EndToEndTests().waitForListening(tlsB, run)
        let subA = try Commands.start(
            Commands.dsi,
            [
                "subscribe", "127.0.0.1:\(tlsA)", "--insecure", "--format", "jsonl", "--count", String(wantA.count),
                "--idle-timeout", "30",
            ])
        let subB = try Commands.start(
            Commands.debianPython,
            [Commands.pythonClient, "127.0.0.1:\(tlsB)", "--insecure", "--count", String(wantB.count)])
        usleep(1_000_000)
        // Both feeds at once, each on its own lines.
        let replays = try [("alpha", mcastA, "239.255.0"), ("beta", mcastB, "239.255.1")].map { feed, port, prefix in
            try Commands.start(
                Commands.dsi,
                [
                    "replay", dir.file("\(feed).pcap"), "--to", "\(prefix).1:\(port)", "--to", "\(prefix).2:\(port)", "--pps",
                    "20000", "--quiet",
                ])
        }
        for replay in replays { #expect(try replay.wait(timeout: 60).status == 0) }
        let gotA = try subA.wait(timeout: 60), gotB = try subB.wait(timeout: 60)
        #expect(gotA.status == 0 && gotB.status == 0, "\(gotA.stderr)\(gotB.stderr)")
        #expect(try jsonLines(gotA.stdout).map(comparable) == wantA.map(comparable), "alpha's publisher sent alpha's capture")
        #expect(
            try jsonLines(gotB.stdout).map(comparable) == wantB.map(comparable), "beta's publisher sent beta's filtered capture")

        run.signal(SIGTERM)
        let stopped = try run.wait(timeout: 30)
        #expect(stopped.status == 0, "\(stopped.stderr.suffix(2000))")
        // The log names each feed's counters.
        for feed in ["alpha", "beta"] {
            try #require(messages[feed] != nil, "dsi ticks' summary has a messages row")
            let counted = stopped.stderr.firstMatch(of: try Regex("\\[\(feed)\\] [^\\[]* messages=(\\d+) "))
            #expect(
                counted.flatMap { $0.output[1].substring.map(String.init) } == messages[feed], "\(stopped.stderr.suffix(1500))")
        }
    }
}
