import DSIFeeds
import DSITestSupport
import DSITools
import Foundation
import Testing

/// The `nats` node against a real three-node nats-server cluster started here: ticks of a replay reach a Python
/// consumer (nats-py, a client DSI did not write) subscribed by wildcard, equal to `dsi ticks`, in JSON and binary;
/// with JetStream, the node the handler is connected to is killed mid-replay and the stream still holds every tick,
/// once.
@Suite(.serialized) struct ScaleOutTests {
    static let consumer = Commands.root + "/tools/clients/nats/dsi_nats_consumer.py"

    /// `PREFIX.FEED.KIND.SYMBOL`, `_` for a status tick without a symbol.
    func subject(_ prefix: String, _ tick: [String: Any]) -> String {
        let stock = (tick["stockLocate"] as? Int ?? 0) == 0 ? "" : tick["stock"] as? String ?? ""
        return "\(prefix).\(tick["feed"] as? String ?? "_").\(tick["kind"] as? String ?? "").\(stock.isEmpty ? "_" : stock)"
    }

    /// (subject, tick) per line of the consumer's output.
    func received(_ out: String) throws -> [(String, [String: Any])] {
        try out.split(separator: "\n").map { line in
            let parts = line.split(separator: "\t", maxSplits: 1)
            let tick = try JSONSerialization.jsonObject(with: Data(parts[1].utf8)) as! [String: Any]
            return (String(parts[0]), tick)
        }
    }

    func handlerConfig(mcast: UInt16, tls: UInt16, socket: String, natsNodes: String, natsNames: String) -> String {
        """
        feeds:
          - name: live
            protocol: moldudp64-itch50
            interface: 127.0.0.1
            lines: [{name: A, group: "239.255.0.1:\(mcast)"}, {name: B, group: "239.255.0.2:\(mcast)"}]
            maxOrders: 200000
        publisher:
          listen: 127.0.0.1:\(tls)
        admin:
          socket: \(socket)
        graph:
          - {name: live, kind: feed}
          - {name: out, kind: publish, input: live}
        \(natsNodes)
        workers:
          - {name: w0, cpu: 0, idle: backoff, nodes: [live]}
          - {name: w1, cpu: 1, idle: backoff, nodes: [out]}
          - {name: wn, cpu: 1, idle: backoff, nodes: [\(natsNames)]}
        """
    }

    func waitForFile(_ path: String, seconds: Double = 30) {
        let deadline = Date().addingTimeInterval(seconds)
        while !FileManager.default.fileExists(atPath: path) && Date() < deadline { usleep(50_000) }
    }

    @Test func ticksReachAWildcardConsumerEqualToDsiTicksInJSONAndBinary() throws {
        let dir = try TemporaryDirectory("dsi-nats")
        defer { dir.remove() }
        let cluster = try NATSCluster(in: dir.path)
        defer { cluster.stop() }
        var options = SessionGenerator.Options(messages: 30_000, seed: 51)
        options.symbols = 6
        try CaptureFile.write(try SessionGenerator.generate(options), to: dir.file("s.pcap"))
        let offline = try jsonLines(
            try Commands.run(Commands.dsi, ["ticks", dir.file("s.pcap"), "--feed", "live", "--format", "jsonl"]).stdout)
        let (mcast, tls) = (try FreePort.udp(), try FreePort.tcp())
        try handlerConfig(
            mcast: mcast, tls: tls, socket: dir.file("admin.sock"),
            natsNodes: """
                  - {name: bus, kind: nats, input: live, options: {servers: [\(cluster.serverList)], encoding: json}}
                  - {name: busBin, kind: nats, input: live, options: {servers: [\(cluster.serverList)], subjectPrefix: md.bin, encoding: binary}}
                """, natsNames: "bus, busBin"
        ).write(toFile: dir.file("run.yaml"), atomically: true, encoding: .utf8)
        let run = try Commands.start(
            Commands.dsi, ["run", "--config", dir.file("run.yaml")], environment: ["DSI_STATE_DIR": dir.path])
        defer { run.signal(SIGKILL) }
        try EndToEndTests().waitForListening(tls, run)

        // Three consumers by wildcard: everything in JSON, everything in binary, and one feed's trades only.
        func consume(_ arguments: [String], _ ready: String) throws -> Commands.Running {
            let process = try Commands.start(
                Commands.python, [Self.consumer, cluster.servers, "--idle", "15", "--ready", dir.file(ready)] + arguments)
            waitForFile(dir.file(ready))
            return process
        }
        let trades = offline.filter { $0["kind"] as? String == "trade" }
        let json = try consume(["--subject", "dsi.>", "--count", String(offline.count)], "json.ready")
        let binary = try consume(["--subject", "md.bin.>", "--binary", "--count", String(offline.count)], "bin.ready")
        let tradesOnly = try consume(["--subject", "dsi.live.trade.*", "--count", String(trades.count)], "trades.ready")
        let replay = try Commands.run(
            Commands.dsi,
            [
                "replay", dir.file("s.pcap"), "--to", "239.255.0.1:\(mcast)", "--to", "239.255.0.2:\(mcast)", "--pps", "20000",
                "--quiet",
            ],
            timeout: 60)
        #expect(replay.status == 0)

        let want = try offline.map(comparable)
        for (name, process, prefix) in [("json", json, "dsi"), ("binary", binary, "md.bin")] {
            let out = try process.wait(timeout: 60)
            let got = try received(out.stdout)
            #expect(got.count == offline.count, "\(name): \(out.stderr)")
            #expect(try got.map { try comparable($0.1) } == want, "\(name): every tick, in order, as dsi ticks makes it")
            #expect(got.allSatisfy { $0.0 == subject(prefix, $0.1) }, "\(name): subjects are PREFIX.FEED.KIND.SYMBOL")
        }
        let gotTrades = try received(try tradesOnly.wait(timeout: 60).stdout)
        #expect(try gotTrades.map { try comparable($0.1) } == trades.map(comparable), "a wildcard on kind takes only trades")
        let status = try Commands.run(Commands.dsi, ["ctl", "status", "--socket", dir.file("admin.sock")]).stdout
        #expect(status.contains("nats bus") && status.contains("published=\(offline.count)"), "\(status)")
        run.signal(SIGTERM)
        #expect(try run.wait(timeout: 30).status == 0)
    }

    /// A cluster that is not there refuses the start in words, naming the node.
    @Test func anUnreachableClusterRefusesTheStart() throws {
        let dir = try TemporaryDirectory("dsi-nats-down")
        defer { dir.remove() }
        let nowhere = try FreePort.tcp()
        try handlerConfig(
            mcast: try FreePort.udp(), tls: try FreePort.tcp(), socket: dir.file("admin.sock"),
            natsNodes: """
                  - {name: bus, kind: nats, input: live, options: {servers: [nats://127.0.0.1:\(nowhere)]}}
                """, natsNames: "bus"
        ).write(toFile: dir.file("run.yaml"), atomically: true, encoding: .utf8)
        let run = try Commands.run(
            Commands.dsi, ["run", "--config", dir.file("run.yaml")], timeout: 60, environment: ["DSI_STATE_DIR": dir.path])
        #expect(run.status == 1, "\(run.stderr)")
        #expect(run.stderr.contains("nats node 'bus'") && run.stderr.contains("cannot connect"), "\(run.stderr)")
    }

    @Test func withJetStreamANodeKilledMidReplayLosesNothing() throws {
        let dir = try TemporaryDirectory("dsi-jetstream")
        defer { dir.remove() }
        let cluster = try NATSCluster(in: dir.path)
        defer { cluster.stop() }
        var options = SessionGenerator.Options(messages: 80_000, seed: 52)
        options.symbols = 6
        try CaptureFile.write(try SessionGenerator.generate(options), to: dir.file("s.pcap"))
        let offline = try jsonLines(
            try Commands.run(Commands.dsi, ["ticks", dir.file("s.pcap"), "--feed", "live", "--format", "jsonl"]).stdout)
        let (mcast, tls) = (try FreePort.udp(), try FreePort.tcp())
        let socket = dir.file("admin.sock")
        try handlerConfig(
            mcast: mcast, tls: tls, socket: socket,
            natsNodes: """
                  - {name: bus, kind: nats, input: live, options: {servers: [\(cluster.serverList)], jetstream: TICKS}}
                """, natsNames: "bus"
        ).write(toFile: dir.file("run.yaml"), atomically: true, encoding: .utf8)
        let run = try Commands.start(
            Commands.dsi, ["run", "--config", dir.file("run.yaml")], environment: ["DSI_STATE_DIR": dir.path])
        defer { run.signal(SIGKILL) }
        try EndToEndTests().waitForListening(tls, run)
        waitForFile(socket)
        let replay = try Commands.start(
            Commands.dsi,
            [
                "replay", dir.file("s.pcap"), "--to", "239.255.0.1:\(mcast)", "--to", "239.255.0.2:\(mcast)", "--pps", "2500",
                "--quiet",
            ])

        // Mid-replay: the node the handler publishes through dies.
        var killed: Int? = nil
        let deadline = Date().addingTimeInterval(20)
        while killed == nil && Date() < deadline {
            usleep(200_000)
            let status = try Commands.run(Commands.dsi, ["ctl", "status", "--socket", socket], timeout: 10).stdout
            let published = status.firstMatch(of: /published=(\d+)/).flatMap { Int($0.output.1) } ?? 0
            guard published >= 1_500, let port = status.firstMatch(of: /connected to nats:\/\/127\.0\.0\.1:(\d+)/)
            else { continue }
            killed = cluster.node(clientPort: UInt16(port.output.1)!)
            #expect(published < offline.count * 3 / 4, "killed mid-replay, at tick \(published) of \(offline.count)")
        }
        let node = try #require(killed, "the handler published through the cluster")
        cluster.kill(node)
        #expect(try replay.wait(timeout: 120).status == 0)
        // The handler's connection went through the loss: it reconnected to another node.
        let after = try Commands.run(Commands.dsi, ["ctl", "status", "--socket", socket], timeout: 10).stdout
        let reconnects = after.firstMatch(of: /reconnects=(\d+)/).flatMap { Int($0.output.1) } ?? 0
        #expect(reconnects >= 1, "\(after)")
        print("nats node after the kill: \(after.split(separator: "\n").first { $0.contains("nats bus") } ?? "")")
        // Stopping drains the node's ring and waits for every acknowledgement.
        run.signal(SIGTERM)
        let stopped = try run.wait(timeout: 60)
        #expect(stopped.status == 0, "\(stopped.stderr.suffix(1500))")

        // The stream, read from its start on the two nodes left: every tick, once.
        let read = try Commands.run(
            Commands.python,
            [
                Self.consumer, cluster.servers, "--stream", "TICKS", "--subject", "dsi.>", "--count", String(offline.count),
                "--idle", "20",
            ],
            timeout: 180)
        let got = try received(read.stdout)
        #expect(got.count == offline.count, "\(read.stderr)")
        let bySeq = Dictionary(got.map { ($0.1["streamSeq"] as? Int ?? 0, $0.1) }, uniquingKeysWith: { a, _ in a })
        #expect(bySeq.count == got.count, "no tick twice (the stream's duplicate window took the resends)")
        // Resent publishes land after the others in the stream; in streamSeq order it is the capture's stream.
        let ordered = try bySeq.keys.sorted().map { try comparable(bySeq[$0]!) }
        #expect(ordered == (try offline.map(comparable)), "every tick of the capture, as dsi ticks makes it")
        #expect(got.allSatisfy { $0.0 == subject("dsi", $0.1) })
    }
}
