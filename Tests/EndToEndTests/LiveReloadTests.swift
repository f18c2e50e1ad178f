import DSIFeeds
import DSITestSupport
import DSITools
import Foundation
import Testing

/// Live reconfiguration of a real `dsi run` while a replay runs, through `dsi ctl reload`: a publish node added and a
/// filter changed lose or double nothing for the subscriber of the branch that did not change; a line's group
/// changed is refused by key and the handler runs on unchanged; the admin socket answers only its owner.
@Suite(.serialized) struct LiveReloadTests {
    func config(mcast: UInt16, tls: [UInt16], socket: String, reloaded: Bool, groupB: String = "239.255.0.2") -> String {
        """
        feeds:
          - name: live
            protocol: moldudp64-itch50
            interface: 127.0.0.1
            lines:
              - {name: A, group: "239.255.0.1:\(mcast)"}
              - {name: B, group: "\(groupB):\(mcast)"}
            maxOrders: 200000
        publisher:
          listen: 127.0.0.1:\(tls[0])
          slowConsumer: \(reloaded ? "conflate" : "disconnect")
        admin:
          socket: \(socket)
        logLevel: \(reloaded ? "notice" : "info")
        graph:
          - {name: live, kind: feed}
          - {name: allOut, kind: publish, input: live}
          - {name: picked, kind: filter, input: live, options: {kinds: [\(reloaded ? "trade, quote" : "trade")]}}
          - {name: pickedOut, kind: publish, input: picked, options: {listen: "127.0.0.1:\(tls[1])"}}
        \(reloaded ? """
              - {name: quotes, kind: filter, input: live, options: {kinds: [quote]}}
              - {name: quotesOut, kind: publish, input: quotes, options: {listen: "127.0.0.1:\(tls[2])"}}
            """ : "")
        workers:
          - {name: w0, cpu: 0, idle: backoff, nodes: [live, picked\(reloaded ? ", quotes" : "")]}
          - {name: w1, cpu: 1, idle: backoff, nodes: [allOut, pickedOut\(reloaded ? ", quotesOut" : "")]}
        """
    }

    @Test func aBranchAddedAndAFilterChangedMidReplayLoseNothingAndALineChangeIsRefused() throws {
        let dir = try TemporaryDirectory("dsi-reload")
        defer { dir.remove() }
        var options = SessionGenerator.Options(messages: 80_000, seed: 41)
        options.symbols = 6
        try CaptureFile.write(try SessionGenerator.generate(options), to: dir.file("s.pcap"))
        let mcast = try FreePort.udp()
        let tls = [try FreePort.tcp(), try FreePort.tcp(), try FreePort.tcp()]
        let socket = dir.file("admin.sock")
        let yaml = dir.file("run.yaml")
        try config(mcast: mcast, tls: tls, socket: socket, reloaded: false).write(toFile: yaml, atomically: true, encoding: .utf8)
        let offline = try jsonLines(
            try Commands.run(Commands.dsi, ["ticks", dir.file("s.pcap"), "--feed", "live", "--format", "jsonl"]).stdout)

        let run = try Commands.start(Commands.dsi, ["run", "--config", yaml], environment: ["DSI_STATE_DIR": dir.path])
        defer { run.signal(SIGKILL) }
        try EndToEndTests().waitForListening(tls[0], run)
        let all = try Commands.start(
            Commands.dsi,
            [
                "subscribe", "127.0.0.1:\(tls[0])", "--insecure", "--format", "jsonl", "--count", String(offline.count),
                "--idle-timeout", "30",
            ])
        // These two read until the handler ends their streams.
        let picked = try Commands.start(
            Commands.dsi, ["subscribe", "127.0.0.1:\(tls[1])", "--insecure", "--format", "jsonl", "--no-reconnect"])
        usleep(500_000)
        let replay = try Commands.start(
            Commands.dsi,
            [
                "replay", dir.file("s.pcap"), "--to", "239.255.0.1:\(mcast)", "--to", "239.255.0.2:\(mcast)", "--pps", "4000",
                "--quiet",
            ])
        // Reload once the handler is some way into the session (and long before its end).
        let deadline = Date().addingTimeInterval(20)
        var handled = 0
        while handled < 5_000 && Date() < deadline {
            usleep(100_000)
            let status = try Commands.run(Commands.dsi, ["ctl", "status", "--socket", socket], timeout: 10).stdout
            handled = status.firstMatch(of: /messages=(\d+)/).flatMap { Int($0.output.1) } ?? 0
        }
        #expect(handled >= 5_000 && handled < 40_000, "reloading mid-replay, at message \(handled) of 80 000")

        // Mid-replay: a new publish node, a changed filter, the slow-consumer policy and the log level.
        try config(mcast: mcast, tls: tls, socket: socket, reloaded: true).write(toFile: yaml, atomically: true, encoding: .utf8)
        let reload = try Commands.run(Commands.dsi, ["ctl", "reload", "--config", yaml], timeout: 30)
        #expect(reload.status == 0, "\(reload.stdout)\(reload.stderr)")
        #expect(reload.stdout.contains("publish nodes added: quotesOut"), "\(reload.stdout)")
        #expect(reload.stdout.contains("filters changed on: pickedOut"), "\(reload.stdout)")
        #expect(reload.stdout.contains("slow consumers conflate"), "\(reload.stdout)")
        let quotes = try Commands.start(
            Commands.dsi, ["subscribe", "127.0.0.1:\(tls[2])", "--insecure", "--format", "jsonl", "--no-reconnect"])

        // A line's group changed: refused by key; the handler runs on, with its lines as they were.
        try config(mcast: mcast, tls: tls, socket: socket, reloaded: true, groupB: "239.255.0.9")
            .write(toFile: yaml, atomically: true, encoding: .utf8)
        let refused = try Commands.run(Commands.dsi, ["ctl", "reload", "--socket", socket], timeout: 30)
        #expect(refused.status == 1, "\(refused.stdout)")
        #expect(
            refused.stdout.contains("feeds[0].lines[1].group") && refused.stdout.contains("cannot change while running")
                && refused.stdout.contains("239.255.0.9"), "\(refused.stdout)")

        #expect(try replay.wait(timeout: 120).status == 0)
        let gotAll = try all.wait(timeout: 60)
        #expect(gotAll.status == 0, "\(gotAll.stderr)")
        // The unchanged branch: every tick, once, in order, numbered as before the reload.
        let received = try jsonLines(gotAll.stdout)
        #expect(received.count == offline.count)
        let want = try offline.map(comparable), have = try received.map(comparable)
        let firstDifference = zip(have, want).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(have == want, "first difference at \(firstDifference.map(String.init) ?? "the end")")

        // Still running, on the reloaded configuration, its lines unchanged.
        let status = try Commands.run(Commands.dsi, ["ctl", "status", "--socket", socket], timeout: 30)
        #expect(status.status == 0, "\(status.stderr)")
        for part in [
            "1 reloads applied", "quotesOut on 127.0.0.1:\(tls[2])", "line B 239.255.0.2:\(mcast)", "slowConsumer: conflate",
            "logLevel: notice", "messages=",
        ] {
            #expect(status.stdout.contains(part), "status lacks \(part): \(status.stdout.prefix(3000))")
        }
        run.signal(SIGTERM)
        let stopped = try run.wait(timeout: 30)
        #expect(stopped.status == 0)
        #expect(stopped.stderr.contains("dsi ctl reload: reload refused"), "the refusal is logged")
        // The changed branch: trades only, then trades and quotes; its own numbering has no hole.
        let pickedTicks = try jsonLines(try picked.wait(timeout: 60).stdout)
        let kinds = pickedTicks.map { $0["kind"] as? String ?? "" }
        let quoteTicks = try jsonLines(try quotes.wait(timeout: 60).stdout)
        let firstQuote = try #require(
            kinds.firstIndex(of: "quote"),
            "quotes arrive after the reload (\(kinds.count) ticks; quotesOut got \(quoteTicks.count))")
        #expect(firstQuote > 0 && kinds[..<firstQuote].allSatisfy { $0 == "trade" || $0 == "status" })
        #expect(pickedTicks.map { $0["streamSeq"] as? Int ?? 0 } == Array(1...pickedTicks.count))
        // The added branch: quotes only, each one the capture's.
        #expect(!quoteTicks.isEmpty && quoteTicks.allSatisfy { $0["kind"] as? String == "quote" })
        let offlineSeqs = Set(offline.filter { $0["kind"] as? String == "quote" }.compactMap { $0["seq"] as? Int })
        #expect(quoteTicks.allSatisfy { offlineSeqs.contains($0["seq"] as? Int ?? -1) })

        #expect(!FileManager.default.fileExists(atPath: socket), "the socket is removed at stop")
    }

    /// Only the handler's user (and root) may use the socket: its mode keeps others out, and if that were loosened,
    /// the peer's user id is still checked.
    @Test func theAdminSocketAnswersOnlyItsOwner() throws {
        let dir = try TemporaryDirectory("dsi-admin")
        defer { dir.remove() }
        chmod(dir.path, 0o711)
        let socket = dir.file("admin.sock")
        let (mcast, tls) = (try FreePort.udp(), try FreePort.tcp())
        try config(mcast: mcast, tls: [tls, try FreePort.tcp(), 0], socket: socket, reloaded: false)
            .write(toFile: dir.file("run.yaml"), atomically: true, encoding: .utf8)
        let run = try Commands.start(
            Commands.dsi, ["run", "--config", dir.file("run.yaml")], environment: ["DSI_STATE_DIR": dir.path])
        defer { run.signal(SIGKILL) }
        try EndToEndTests().waitForListening(tls, run)
        // The admin socket is bound after the publishers' ports.
        let deadline = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: socket) && Date() < deadline { usleep(20_000) }
        var info = stat()
        #expect(stat(socket, &info) == 0 && info.st_mode & 0o777 == 0o600, "mode \(String(info.st_mode & 0o777, radix: 8))")

        // As user nobody (65534): the socket's mode refuses the connection.
        let asNobody = """
            import socket, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(sys.argv[1])
            except OSError as e:
                print("connect:", e.strerror); sys.exit(0)
            s.sendall(b"status\\n"); print(s.recv(200).decode())
            """
        let nobody = ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", asNobody, socket]
        let denied = try Commands.run("setpriv", nobody, timeout: 30)
        #expect(denied.stdout.contains("connect: Permission denied"), "\(denied.stdout)\(denied.stderr)")
        // Loosened by hand: the handler still checks who is asking.
        chmod(socket, 0o666)
        let checked = try Commands.run("setpriv", nobody, timeout: 30)
        #expect(checked.stdout.contains("refused: user 65534"), "\(checked.stdout)\(checked.stderr)")
        // Its owner is answered; an unknown command is named.
        #expect(try Commands.run(Commands.dsi, ["ctl", "status", "--socket", socket]).stdout.contains("dsi handler: pid"))
        let unknown = try Commands.run(
            "python3",
            [
                "-c",
                "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b'shutdown\\n'); print(s.recv(200).decode())",
                socket,
            ])
        #expect(unknown.stdout.contains("unknown command 'shutdown' (reload, status)"), "\(unknown.stdout)")
        // A damaged file and an oversized command are refused in words; the handler runs on, unchanged.
        try "feeds: [".write(toFile: dir.file("run.yaml"), atomically: true, encoding: .utf8)
        let broken = try Commands.run(Commands.dsi, ["ctl", "reload", "--socket", socket], timeout: 30)
        #expect(broken.status == 1 && broken.stdout.contains("refused") && broken.stdout.contains("run.yaml"), "\(broken.stdout)")
        let flood = try Commands.run(
            "python3",
            [
                "-c",
                "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b'x'*10000+b'\\n'); print(s.recv(200).decode(errors='replace'))",
                socket,
            ])
        #expect(flood.stdout.contains("unknown command"), "\(flood.stdout)\(flood.stderr)")
        #expect(try Commands.run(Commands.dsi, ["ctl", "status", "--socket", socket]).stdout.contains("0 reloads applied"))
        // A second handler (its own ports) on the same socket is refused at start.
        try config(mcast: try FreePort.udp(), tls: [try FreePort.tcp(), try FreePort.tcp(), 0], socket: socket, reloaded: false)
            .write(toFile: dir.file("second.yaml"), atomically: true, encoding: .utf8)
        let second = try Commands.run(
            Commands.dsi, ["run", "--config", dir.file("second.yaml")], timeout: 30, environment: ["DSI_STATE_DIR": dir.path])
        #expect(second.status != 0 && second.stderr.contains("in use by a running handler"), "\(second.stderr)")
        run.signal(SIGTERM)
        #expect(try run.wait(timeout: 30).status == 0)
    }
}
