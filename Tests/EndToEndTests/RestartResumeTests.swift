import DSICore
import DSIFeeds
import DSINet
import DSIRuntime
import DSITestSupport
import DSITools
import Foundation
import Testing

/// `dsi run` killed with SIGKILL in the middle of a session and started again: the restarted handler rebuilds its
/// books (`join: recover`, from the replay's re-request server), publishes nothing twice (the journal knows where it
/// stopped), and its stream numbering goes on; a `dsi subscribe` that reconnects and resumes from its last sequence
/// receives every tick of the day once, in order, equal to `dsi ticks` of the capture.
@Suite(.serialized) struct RestartResumeTests {
    @Test func aSubscriberResumesAcrossAKilledAndRestartedHandler() throws {
        let dir = try TemporaryDirectory("dsi-restart")
        defer { dir.remove() }
        var options = SessionGenerator.Options(messages: 30_000, seed: 33)
        options.symbols = 10
        try CaptureFile.write(try SessionGenerator.generate(options), to: dir.file("s.pcap"))
        let offline = try jsonLines(
            try Commands.run(Commands.dsi, ["ticks", dir.file("s.pcap"), "--feed", "restart", "--format", "jsonl"]).stdout)
        try #require(offline.count > 3_000)
        let tls = try FreePort.tcp(), mcast = try FreePort.udp(), recovery = try FreePort.udp()
        let yaml = """
            feeds:
              - name: restart
                protocol: moldudp64-itch50
                interface: 127.0.0.1
                lines:
                  - {name: A, group: "239.255.0.1:\(mcast)"}
                  - {name: B, group: "239.255.0.2:\(mcast)"}
                maxOrders: 100000
                recovery: 127.0.0.1:\(recovery)
                join: recover
            publisher:
              listen: 127.0.0.1:\(tls)
              stateDirectory: \(dir.path)/state
              journal: \(dir.path)/journal
            """
        try yaml.write(toFile: dir.file("run.yaml"), atomically: true, encoding: .utf8)
        func startHandler() throws -> Commands.Running {
            let run = try Commands.start(
                Commands.dsi, ["run", "--config", dir.file("run.yaml")], environment: ["DSI_STATE_DIR": dir.path])
            try EndToEndTests().waitForListening(tls, run)
            return run
        }
        let first = try startHandler()
        // From the start of the day's stream: whatever the moment it connects, it misses nothing.
        let subscriber = try Commands.start(
            Commands.dsi,
            [
                "subscribe", "127.0.0.1:\(tls)", "--ca", dir.path + "/state/tls/publisher-cert.pem", "--from-seq", "1",
                "--format", "jsonl",
            ])
        let replay = try Commands.start(
            Commands.dsi,
            [
                "replay", dir.file("s.pcap"), "--to", "239.255.0.1:\(mcast)", "--to", "239.255.0.2:\(mcast)", "--pps", "1500",
                "--recovery-port", String(recovery), "--linger", "6",
            ])
        // Kill the handler once a third of the day's ticks are journaled.
        let journal = dir.path + "/journal/\(Journal.today()).dsij"
        var journaled = 0
        let deadline = Date().addingTimeInterval(30)
        while journaled < offline.count / 3 && Date() < deadline {
            usleep(20_000)
            journaled = 0
            _ = try? Journal.audit(path: journal) { _ in journaled += 1 }
        }
        first.signal(SIGKILL)
        let killed = try first.wait(timeout: 10)
        #expect(killed.status == SIGKILL || killed.status != 0, "killed")
        let second = try startHandler()
        let replayed = try replay.wait(timeout: 90)
        #expect(replayed.status == 0, "\(replayed.stderr)")
        // The session's end has been handled once the journal stops growing; then a clean stop ends the stream.
        var last = -1
        while journaled != last {
            last = journaled
            usleep(500_000)
            journaled = 0
            _ = try? Journal.audit(path: journal) { _ in journaled += 1 }
        }
        second.signal(SIGTERM)
        let stopped = try second.wait(timeout: 30)
        #expect(stopped.status == 0, "\(stopped.stderr)")
        #expect(stopped.stderr.contains("restored"), "\(stopped.stderr)")
        let got = try subscriber.wait(timeout: 60)
        #expect(got.status == 0, "\(got.stderr)")
        #expect(got.stderr.contains("connections     2") && got.stderr.contains("missed          0"), "\(got.stderr)")

        let received = try jsonLines(got.stdout)
        #expect(received.map { $0["streamSeq"] as? Int } == Array(1...received.count).map { $0 }, "numbered on, once each")
        let a = try received.map(comparable), b = try offline.map(comparable)
        let firstDifference = zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }
        #expect(a.count == b.count && firstDifference == nil, "\(a.count) vs \(b.count): \(String(describing: firstDifference))")
        // The journal is the same day, audited by `dsi journal`.
        let audit = try Commands.run(Commands.dsi, ["journal", journal])
        #expect(audit.status == 0, "\(audit.stderr)")
        #expect(try jsonLines(audit.stdout).map(comparable) == b)
    }
}
