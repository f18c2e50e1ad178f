import DSICore
import DSINet
import DSIRuntime
import DSITestSupport
import DSITools
import Foundation
import Testing

/// The whole path through the real `dsi` binary: gen → replay → run → subscribe over loopback multicast and TLS 1.3,
/// checked with tools DSI did not write (openssl s_client, Python's ssl).
@Suite(.serialized) struct EndToEndTests {
    /// A handler config on ports no other test uses, with its own state directory.
    func config(in dir: TemporaryDirectory, tlsPort: UInt16, mcastPort: UInt16, extra: String = "") throws -> String {
        let yaml = """
            feeds:
              - name: e2e
                protocol: moldudp64-itch50
                interface: 127.0.0.1
                lines:
                  - {name: A, group: "239.255.0.1:\(mcastPort)"}
                  - {name: B, group: "239.255.0.2:\(mcastPort)"}
                maxOrders: 100000
            publisher:
              listen: 127.0.0.1:\(tlsPort)
              stateDirectory: \(dir.path)/state
            \(extra)
            """
        let path = dir.file("run.yaml")
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func waitForListening(_ port: UInt16, _ running: Commands.Running) throws {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = port.bigEndian
            a.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
            let ok =
                withUnsafePointer(to: &a) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                } == 0
            close(fd)
            if ok { return }
            if !running.process.isRunning { break }
            usleep(50_000)
        }
        throw Commands.TimedOut(command: "dsi run listening on \(port)", stderr: (try? running.wait(timeout: 1).stderr) ?? "")
    }

    @Test func genReplayRunSubscribe() throws {
        let dir = try TemporaryDirectory("dsi-e2e")
        defer { dir.remove() }
        let tls = try FreePort.tcp(), mcast = try FreePort.udp()
        let gen = try Commands.run(
            Commands.dsi,
            [
                "gen", "--out", dir.file("s.pcap"), "--messages", "30000", "--seed", "5",
                "--group", "239.255.0.1:\(mcast)",
            ])
        #expect(gen.status == 0, "\(gen.stderr)")

        let run = try Commands.start(
            Commands.dsi, ["run", "--config", try config(in: dir, tlsPort: tls, mcastPort: mcast), "--stats-interval", "0"])
        try waitForListening(tls, run)

        // The self-signed certificate is made at first start; a verifying subscriber trusts exactly it.
        let cert = dir.path + "/state/tls/publisher-cert.pem"
        #expect(FileManager.default.fileExists(atPath: cert))
        let subscriber = try Commands.start(
            Commands.dsi,
            [
                "subscribe", "127.0.0.1:\(tls)", "--ca", cert, "--count", "1000", "--format", "jsonl",
                "--idle-timeout", "30",
            ])
        let insecure = try Commands.start(
            Commands.dsi,
            [
                "subscribe", "127.0.0.1:\(tls)", "--insecure", "--count", "1000", "--format", "none",
                "--idle-timeout", "30",
            ])
        Thread.sleep(forTimeInterval: 0.5)  // both connected before the feed starts
        let replay = try Commands.run(
            Commands.dsi,
            [
                "replay", dir.file("s.pcap"), "--to", "239.255.0.1:\(mcast)", "--to", "239.255.0.2:\(mcast)",
                "--speed", "1",
            ])
        #expect(replay.status == 0, "\(replay.stderr)")

        let got = try subscriber.wait(timeout: 60)
        #expect(got.status == 0, "\(got.stderr)")
        let ticks = try jsonLines(got.stdout)
        #expect(ticks.count == 1000)
        #expect(ticks.map { $0["streamSeq"] as? Int } == (1...1000).map { $0 })
        for tick in ticks {
            for key in ["kind", "seq", "streamSeq", "stockLocate", "stock", "timestamp"] {
                #expect(tick[key] != nil, "missing \(key)")
            }
            switch tick["kind"] as? String {
            case "trade": for key in ["price", "shares", "matchNumber"] { #expect(tick[key] is Int) }
            case "quote": for key in ["bidPrice", "bidSize", "askPrice", "askSize"] { #expect(tick[key] is Int) }
            case "status", "tradeBreak": break
            default: Issue.record("unexpected kind in \(tick)")
            }
        }
        let other = try insecure.wait(timeout: 60)
        #expect(other.status == 0, "\(other.stderr)")
        #expect(
            other.stderr.contains("ticks           1000 (0 images)") && other.stderr.contains("TLS             TLSv1.3"),
            "\(other.stderr)")

        // SIGTERM: a clean, draining stop with the counters logged.
        run.signal(SIGTERM)
        let stopped = try run.wait(timeout: 30)
        #expect(stopped.status == 0, "\(stopped.stderr)")
        #expect(stopped.stderr.contains("messages=30000"), "\(stopped.stderr)")
        #expect(stopped.stderr.contains("duplicateMessages=30000"), "line B's copy of every message was dropped")
        #expect(stopped.stderr.contains("gaps=0"))
    }

    @Test func opensslAndPythonAgreeItIsTLS13Only() throws {
        let dir = try TemporaryDirectory("dsi-tls13")
        defer { dir.remove() }
        let tls = try FreePort.tcp(), mcast = try FreePort.udp()
        let run = try Commands.start(Commands.dsi, ["run", "--config", try config(in: dir, tlsPort: tls, mcastPort: mcast)])
        defer { run.signal(SIGTERM); _ = try? run.wait(timeout: 30) }
        try waitForListening(tls, run)

        let ok = try Commands.run("openssl", ["s_client", "-connect", "127.0.0.1:\(tls)", "-tls1_3", "-brief"], timeout: 20)
        #expect(ok.stderr.contains("Protocol version: TLSv1.3") || ok.stdout.contains("TLSv1.3"), "\(ok.stdout)\(ok.stderr)")
        let refused = try Commands.run("openssl", ["s_client", "-connect", "127.0.0.1:\(tls)", "-tls1_2", "-brief"], timeout: 20)
        #expect(refused.status != 0)
        #expect(!(refused.stderr + refused.stdout).contains("Protocol version: TLSv1.2"))

        let python = """
            import socket, ssl, sys
            ctx = ssl.create_default_context(cafile=sys.argv[2])
            with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as s:
                with ctx.wrap_socket(s, server_hostname="localhost") as t:
                    print(t.version())
            ctx12 = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); ctx12.check_hostname = False; ctx12.verify_mode = ssl.CERT_NONE
            ctx12.maximum_version = ssl.TLSVersion.TLSv1_2
            try:
                with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as s:
                    ctx12.wrap_socket(s)
                print("tls1.2 accepted")
            except ssl.SSLError as e:
                print("tls1.2 refused")
            """
        let py = try Commands.run(
            "python3", ["-c", python, String(tls), dir.path + "/state/tls/publisher-cert.pem"], timeout: 20)
        #expect(py.stdout.split(separator: "\n") == ["TLSv1.3", "tls1.2 refused"], "\(py.stdout)\(py.stderr)")
    }

    @Test func demoReportsDeliveryAndLatency() throws {
        let result = try Commands.run(Commands.dsi, ["demo", "--json", "--messages", "20000"], timeout: 120)
        #expect(result.status == 0, "\(result.stderr)")
        let summary = try #require(try jsonLines(String(result.stdout.split(separator: "\n").last ?? "")).first)
        #expect(summary["messagesSent"] as? Int == 20_000)
        #expect(summary["messagesReceived"] as? Int == 20_000)
        #expect(summary["gaps"] as? Int == 0)
        let published = try #require(summary["ticksPublished"] as? Int)
        #expect(published > 1000)
        #expect(summary["ticksDelivered"] as? Int == published)
        let latency = try #require(summary["latency"] as? [String: Any])
        let p50 = try #require(latency["p50"] as? Int), p99 = try #require(latency["p99"] as? Int),
            max = try #require(latency["max"] as? Int)
        #expect(p50 > 0 && p50 <= p99 && p99 <= max)
    }

    /// An ordinary user without CAP_NET_ADMIN gets no receive buffer beyond `net.core.rmem_max`: `dsi run` refuses a
    /// configuration that asks for more, but the demo runs with what the kernel grants, and says so.
    @Test func theDemoRunsForAnUnprivilegedUser() throws {
        let dir = try TemporaryDirectory("dsi-nobody")
        defer { dir.remove() }
        _ = chmod(dir.path, 0o777)
        let result = try Commands.run(
            "/usr/bin/setpriv",
            [
                "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "env", "HOME=\(dir.path)",
                "DSI_STATE_DIR=\(dir.path)/state", "TMPDIR=\(dir.path)", Commands.dsi, "demo", "--json", "--messages", "5000",
            ], timeout: 120)
        #expect(result.status == 0, "\(result.stderr)")
        let rmemMax = Int(
            try String(contentsOfFile: "/proc/sys/net/core/rmem_max", encoding: .utf8).trimmingCharacters(
                in: .whitespacesAndNewlines))!
        if rmemMax < FeedConfig.defaultReceiveBuffer {
            #expect(result.stderr.contains("the kernel grants this user a \(rmemMax)-byte receive buffer"), "\(result.stderr)")
        }
        let summary = try #require(try jsonLines(String(result.stdout.split(separator: "\n").last ?? "")).first)
        #expect(summary["messagesReceived"] as? Int == 5_000 && summary["lostMessages"] as? Int == 0)
    }

    @Test func badInputGetsClearErrors() throws {
        let dir = try TemporaryDirectory("dsi-bad")
        defer { dir.remove() }
        func fails(_ args: [String], saying parts: [String]) throws {
            let r = try Commands.run(Commands.dsi, args, timeout: 30)
            #expect(r.status != 0, "\(args) should fail")
            for part in parts { #expect(r.stderr.contains(part), "\(args): stderr was \(r.stderr)") }
        }
        try fails(["run", "--config", "/nonexistent/x.yaml"], saying: ["/nonexistent/x.yaml: no such file"])
        try "feeds: [".write(toFile: dir.file("broken.yaml"), atomically: true, encoding: .utf8)
        try fails(["run", "--config", dir.file("broken.yaml")], saying: ["broken.yaml", "invalid YAML"])
        try fails(["replay", "/nonexistent/x.pcap"], saying: ["/nonexistent/x.pcap"])
        try fails(["decode", "/nonexistent/x.pcap", "--format", "jsonl"], saying: ["/nonexistent/x.pcap"])
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: dir.file("g.pcap")))
        try fails(["ticks", dir.file("g.pcap"), "--format", "jsonl"], saying: ["g.pcap"])

        // A bad certificate path, named in the error.
        let tls = try FreePort.tcp(), mcast = try FreePort.udp()
        let badCert = try config(in: dir, tlsPort: tls, mcastPort: mcast).replacingOccurrences(of: "run.yaml", with: "run.yaml")
        var text = try String(contentsOfFile: badCert, encoding: .utf8)
        text = text.replacingOccurrences(
            of: "  stateDirectory:", with: "  certificate: /nonexistent/cert.pem\n  key: /nonexistent/key.pem\n  stateDirectory:")
        try text.write(toFile: dir.file("cert.yaml"), atomically: true, encoding: .utf8)
        try fails(["run", "--config", dir.file("cert.yaml")], saying: ["/nonexistent/cert.pem"])

        // A port in use: a second handler on the first one's port.
        let first = try Commands.start(Commands.dsi, ["run", "--config", try config(in: dir, tlsPort: tls, mcastPort: mcast)])
        defer { first.signal(SIGTERM); _ = try? first.wait(timeout: 30) }
        try waitForListening(tls, first)
        try fails(["run", "--config", dir.file("run.yaml")], saying: ["127.0.0.1:\(tls)", "address already in use"])

        // A subscriber pointed at nothing.
        try fails(["subscribe", "127.0.0.1:1", "--insecure", "--format", "jsonl"], saying: ["connect(127.0.0.1:1)"])
    }
}
