import DSICore
import DSIFeeds
import DSINet
import DSIRuntime
import DSITestSupport
import DSITools
import Foundation
import Testing

/// A subscriber that stops reading while a capture is replayed flat out (`dsi replay --topspeed`) into `dsi run`
/// with `slowConsumer: conflate`: a subscriber that reads gets every tick; the stalled one, once it reads again, has
/// every trade, trade break, status and gap tick, and the latest quote of each symbol; the handler's memory stays
/// bounded.
@Suite(.serialized) struct SlowConsumerTests {
    @Test func aStalledSubscriberUnderTopspeedKeepsEveryTrade() throws {
        let dir = try TemporaryDirectory("dsi-slow")
        defer { dir.remove() }
        var options = SessionGenerator.Options(messages: 200_000, seed: 12)
        options.symbols = 20
        try CaptureFile.write(try SessionGenerator.generate(options), to: dir.file("s.pcap"))
        let offline = try jsonLines(
            try Commands.run(Commands.dsi, ["ticks", dir.file("s.pcap"), "--feed", "slow", "--format", "jsonl"], timeout: 120)
                .stdout)
        let tls = try FreePort.tcp(), mcast = try FreePort.udp()
        let yaml = """
            feeds:
              - name: slow
                protocol: moldudp64-itch50
                interface: 127.0.0.1
                lines:
                  - {name: A, group: "239.255.0.1:\(mcast)"}
                  - {name: B, group: "239.255.0.2:\(mcast)"}
                maxOrders: 200000
            publisher:
              listen: 127.0.0.1:\(tls)
              stateDirectory: \(dir.path)/state
              maxQueuedBytes: 2097152
              slowConsumer: conflate
              conflateGraceMs: 60000
              journal: \(dir.path)/journal
            """
        try yaml.write(toFile: dir.file("run.yaml"), atomically: true, encoding: .utf8)
        let run = try Commands.start(Commands.dsi, ["run", "--config", dir.file("run.yaml")])
        try EndToEndTests().waitForListening(tls, run)
        let ca = dir.path + "/state/tls/publisher-cert.pem"
        let stalled = try Commands.start(
            Commands.debianPython,
            [
                Commands.pythonClient, "127.0.0.1:\(tls)", "--ca", ca, "--encoding", "json", "--stall", "4", "--idle-timeout",
                "3",
                "--from-seq", "1",
            ])
        // Both from the day's first tick (the journal): however late a subscription lands, nothing is missed.
        let reading = try Commands.start(
            Commands.dsi, ["subscribe", "127.0.0.1:\(tls)", "--ca", ca, "--from-seq", "1", "--format", "jsonl"])
        usleep(1_500_000)  // subscribed before the flood: the stalled one is then behind on the live stream, and conflated
        let replay = try Commands.run(
            Commands.dsi,
            ["replay", dir.file("s.pcap"), "--to", "239.255.0.1:\(mcast)", "--to", "239.255.0.2:\(mcast)", "--topspeed"],
            timeout: 60)
        #expect(replay.status == 0, "\(replay.stderr)")
        let slow = try stalled.wait(timeout: 90)
        #expect(slow.status == 0, "\(slow.stderr)")
        let peak = try String(contentsOfFile: "/proc/\(run.process.processIdentifier)/status", encoding: .utf8)
            .split(separator: "\n").first { $0.hasPrefix("VmHWM:") }
        run.signal(SIGTERM)
        let stopped = try run.wait(timeout: 30)
        let fast = try reading.wait(timeout: 30)
        func comparable(_ o: [String: Any]) throws -> String {
            var c = o
            c["receiveTime"] = 0
            c["conflated"] = nil
            return try canonical(c)
        }
        let want = try offline.map(comparable)
        #expect(try jsonLines(fast.stdout).map(comparable) == want, "the reading subscriber got every tick")
        let got = try jsonLines(slow.stdout)
        let notQuotes = { (o: [String: Any]) in (o["kind"] as? String) != "quote" }
        #expect(
            try got.filter(notQuotes).map(comparable) == offline.filter(notQuotes).map(comparable),
            "every trade, break, status and gap tick, in order")
        var latest: [String: String] = [:], lastSeen: [String: String] = [:]
        for o in offline where !notQuotes(o) { latest["\(o["stockLocate"]!)"] = try comparable(o) }
        for o in got where !notQuotes(o) { lastSeen["\(o["stockLocate"]!)"] = try comparable(o) }
        #expect(lastSeen == latest, "each symbol's latest quote")
        #expect(got.contains { $0["conflated"] as? Bool == true }, "quotes were conflated")
        #expect(stopped.stderr.contains("conflating its quotes"), "\(stopped.stderr.suffix(2000))")
        // Peak resident memory: the handler's preallocated rings and tables plus a bounded backlog.
        let kb = Int(peak?.split(separator: " ").dropFirst().first { !$0.isEmpty }.map(String.init) ?? "") ?? 0
        #expect(kb > 0 && kb < 1_500_000, "peak RSS \(kb) kB")
    }
}
