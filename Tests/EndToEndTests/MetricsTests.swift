import DSICore
import DSIFeeds
import DSITestSupport
import DSITools
import Foundation
import Testing

/// `metrics.listen` on a real `dsi run`: Prometheus text that `promtool check metrics` (Prometheus' own linter)
/// passes, with counts equal to what was replayed; `/healthz`; `/readyz` refusing until both lines receive; what
/// an HTTP client must not be able to do to the endpoint (stall it, flood its header, ask with other methods); and
/// a real Prometheus, started here, scraping it during a replay and answering for the message and gap rates.
@Suite(.serialized) struct MetricsTests {
    /// (status, body) of an HTTP request made by Python's urllib (a client DSI did not write).
    func http(_ port: UInt16, _ path: String, method: String = "GET") throws -> (Int, String) {
        let script = """
            import sys, urllib.request, urllib.error
            req = urllib.request.Request("http://127.0.0.1:%s%s" % (sys.argv[1], sys.argv[2]), method=sys.argv[3])
            try:
                r = urllib.request.urlopen(req, timeout=10)
                print(r.status); sys.stdout.write(r.read().decode())
            except urllib.error.HTTPError as e:
                print(e.code); sys.stdout.write(e.read().decode())
            """
        let out = try Commands.run("python3", ["-c", script, String(port), path, method], timeout: 30)
        let lines = out.stdout.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        return (Int(lines.first ?? "") ?? -1, lines.count > 1 ? String(lines[1]) : "")
    }

    /// The value of one sample in Prometheus text: `name{labels} value`.
    func sample(_ text: String, _ series: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last!) }
    }

    func config(mcast: UInt16, tls: UInt16, metrics: UInt16) -> String {
        """
        feeds:
          - name: m
            protocol: moldudp64-itch50
            interface: 127.0.0.1
            lines:
              - {name: A, group: "239.255.0.1:\(mcast)"}
              - {name: B, group: "239.255.0.2:\(mcast)"}
            maxOrders: 100000
        publisher:
          listen: 127.0.0.1:\(tls)
        metrics:
          listen: 127.0.0.1:\(metrics)
        """
    }

    @Test func endpointServesCountsHealthAndReadinessAndWithstandsBadClients() throws {
        let dir = try TemporaryDirectory("dsi-metrics")
        defer { dir.remove() }
        var options = SessionGenerator.Options(messages: 20_000, seed: 12)
        options.symbols = 6
        let session = try SessionGenerator.generate(options)
        try CaptureFile.write(session, to: dir.file("s.pcap"))
        let (mcast, tls, port) = (try FreePort.udp(), try FreePort.tcp(), try FreePort.tcp())
        try config(mcast: mcast, tls: tls, metrics: port).write(toFile: dir.file("run.yaml"), atomically: true, encoding: .utf8)
        let run = try Commands.start(
            Commands.dsi, ["run", "--config", dir.file("run.yaml")], environment: ["DSI_STATE_DIR": dir.path])
        try EndToEndTests().waitForListening(tls, run)

        #expect(try http(port, "/healthz") == (200, "ok\n"))
        let before = try http(port, "/readyz")
        #expect(before.0 == 503 && before.1.contains("line A: nothing received yet"), "\(before)")
        #expect(try http(port, "/nowhere").0 == 404)
        #expect(try http(port, "/metrics", method: "POST").0 == 405)

        // A client that connects and says nothing holds the endpoint at most its 2 s; one that floods its header
        // is answered 431; garbage is answered 400. A scrape after them is answered.
        let stall = try Commands.start(
            "python3",
            [
                "-c", "import socket,sys,time; s=socket.create_connection(('127.0.0.1', int(sys.argv[1]))); time.sleep(5)",
                String(port),
            ])
        let flood = try Commands.run(
            "python3",
            [
                "-c",
                "import socket,sys; s=socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=10); s.sendall(b'GET /metrics HTTP/1.1\\r\\nX: ' + b'a'*20000); print(s.recv(100).decode().split('\\r\\n')[0])",
                String(port),
            ], timeout: 30)
        #expect(flood.stdout.contains("431"), "\(flood.stdout)\(flood.stderr)")
        let garbage = try Commands.run(
            "python3",
            [
                "-c",
                "import socket,sys; s=socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=10); s.sendall(b'\\x16\\x03\\x01hello\\r\\n\\r\\n'); print(s.recv(100).decode(errors='replace').split('\\r\\n')[0])",
                String(port),
            ], timeout: 30)
        #expect(garbage.stdout.contains("400"), "\(garbage.stdout)\(garbage.stderr)")
        #expect(try http(port, "/healthz").0 == 200, "answered after a stalled client")
        _ = try? stall.wait(timeout: 10)

        // A subscriber through the replay: its own series appear while it is connected and go when it leaves.
        let subscriber = try Commands.start(
            Commands.dsi, ["subscribe", "127.0.0.1:\(tls)", "--insecure", "--name", "watcher", "--format", "none"])
        defer { subscriber.signal(SIGKILL) }
        usleep(500_000)
        let replay = try Commands.run(
            Commands.dsi,
            ["replay", dir.file("s.pcap"), "--to", "239.255.0.1:\(mcast)", "--to", "239.255.0.2:\(mcast)", "--pps", "20000"],
            timeout: 60)
        #expect(replay.status == 0, "\(replay.stderr)")
        usleep(500_000)
        #expect(try http(port, "/readyz") == (200, "ready\n"))
        let (status, text) = try http(port, "/metrics")
        #expect(status == 200)
        #expect(sample(text, #"dsi_messages_total{feed="m"}"#) == Double(session.messageCount), "\(text.prefix(2000))")
        #expect(sample(text, #"dsi_duplicate_messages_total{feed="m"}"#) == Double(session.messageCount))
        #expect(sample(text, #"dsi_gaps_total{feed="m"}"#) == 0)
        let packets = Double(session.packets.count)
        #expect(sample(text, #"dsi_line_datagrams_total{feed="m",line="A"}"#) == packets)
        #expect(sample(text, #"dsi_line_datagrams_total{feed="m",line="B"}"#) == packets)
        #expect(sample(text, #"dsi_subscribers{feed="m",publisher="publish"}"#) == 1)
        let published = sample(text, #"dsi_published_ticks_total{feed="m",publisher="publish"}"#) ?? 0
        #expect(published > 0)
        let watcher = text.split(separator: "\n").first {
            $0.hasPrefix("dsi_subscriber_ticks_sent_total{") && $0.contains(#"subscriber="watcher""#)
        }
        #expect(watcher.flatMap { Double($0.split(separator: " ").last!) } == published, "\(watcher ?? "none")")
        // Latency: one sample per publish batch, so at least one and at most one per tick.
        let latencies = sample(text, #"dsi_tick_latency_seconds_count{feed="m",publisher="publish"}"#) ?? 0
        #expect(latencies >= 1 && latencies <= published, "\(latencies)")
        #expect(sample(text, #"dsi_tick_latency_seconds_bucket{feed="m",publisher="publish",le="+Inf"}"#) == latencies)
        // The pipeline's worker did work, and is up; its busy time is under the run's wall time.
        let busy = sample(text, #"dsi_worker_busy_seconds_total{worker="pipeline"}"#) ?? 0
        #expect(busy > 0 && busy < 60, "\(busy)")
        #expect(sample(text, #"dsi_worker_up{worker="pipeline"}"#) == 1)
        let cycles = sample(text, #"dsi_worker_duty_cycles_total{worker="pipeline"}"#) ?? 0
        let idle = sample(text, #"dsi_worker_idle_cycles_total{worker="pipeline"}"#) ?? 0
        #expect(idle > 0 && idle < cycles, "\(idle) of \(cycles)")
        try text.write(toFile: dir.file("metrics.txt"), atomically: true, encoding: .utf8)
        let lint = try Commands.run("sh", ["-c", "promtool check metrics < \(dir.file("metrics.txt"))"])
        #expect(lint.status == 0, "promtool: \(lint.stdout)\(lint.stderr)")
        // Every dsi_ series the Grafana dashboard queries is exported, with every label it groups or filters by.
        let dashboard = try String(contentsOfFile: Commands.root + "/tools/grafana/dsi.json", encoding: .utf8)
        let queried = Set(dashboard.matches(of: /dsi_[a-z_]+/).map { String($0.output) })
        #expect(queried.count >= 15, "\(queried)")
        for name in queried {
            let exported = text.split(separator: "\n").filter { $0.hasPrefix(name + "{") }
            #expect(!exported.isEmpty, "the dashboard queries \(name), which is not exported")
            // Workers are the handler's, not a feed's.
            #expect(
                name.hasPrefix("dsi_worker_") || exported.allSatisfy { $0.contains("feed=\"m\"") },
                "\(name) carries the feed label")
        }
        subscriber.signal(SIGKILL)
        _ = try? subscriber.wait(timeout: 10)
        usleep(1_500_000)  // the publisher's snapshot is at most a second old
        let after = try http(port, "/metrics").1
        #expect(!after.contains("dsi_subscriber_ticks_sent_total{"), "a subscriber that left keeps no series")
        #expect(text.contains(#"reason="foreign_session""#) && text.contains(#"publisher="publish""#))
        run.signal(SIGTERM)
        #expect(try run.wait(timeout: 30).status == 0)
    }

    /// Prometheus itself (Debian's, on a loopback port of its own) scrapes the endpoint every second during a
    /// replay; its query API then answers for the message rate and the gap rate.
    @Test func aRealPrometheusScrapesItDuringAReplay() throws {
        let dir = try TemporaryDirectory("dsi-prometheus")
        defer { dir.remove() }
        var options = SessionGenerator.Options(messages: 60_000, seed: 13)
        options.symbols = 6
        try CaptureFile.write(try SessionGenerator.generate(options), to: dir.file("s.pcap"))
        let (mcast, tls, port, web) = (try FreePort.udp(), try FreePort.tcp(), try FreePort.tcp(), try FreePort.tcp())
        try config(mcast: mcast, tls: tls, metrics: port).write(toFile: dir.file("run.yaml"), atomically: true, encoding: .utf8)
        try """
        global: {scrape_interval: 1s, evaluation_interval: 1s}
        scrape_configs:
          - job_name: dsi
            static_configs: [{targets: ["127.0.0.1:\(port)"]}]
        """.write(toFile: dir.file("prometheus.yml"), atomically: true, encoding: .utf8)
        let run = try Commands.start(
            Commands.dsi, ["run", "--config", dir.file("run.yaml")], environment: ["DSI_STATE_DIR": dir.path])
        try EndToEndTests().waitForListening(tls, run)
        let prometheus = try Commands.start(
            "prometheus",
            [
                "--config.file=\(dir.file("prometheus.yml"))", "--storage.tsdb.path=\(dir.path)/tsdb",
                "--web.listen-address=127.0.0.1:\(web)",
            ])
        defer { prometheus.signal(SIGTERM) }
        func query(_ promql: String) throws -> [[String: Any]] {
            let (status, body) = try http(
                web, "/api/v1/query?query=" + promql.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)
            guard status == 200, let json = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
                let data = json["data"] as? [String: Any]
            else { return [] }
            return data["result"] as? [[String: Any]] ?? []
        }
        // Prometheus is up and has scraped the endpoint once.
        let deadline = Date().addingTimeInterval(30)
        while try query(#"up{job="dsi"}"#).isEmpty && Date() < deadline { usleep(200_000) }
        try #require(try !query(#"up{job="dsi"}"#).isEmpty, "Prometheus never scraped the endpoint")
        let replay = try Commands.run(
            Commands.dsi,
            ["replay", dir.file("s.pcap"), "--to", "239.255.0.1:\(mcast)", "--to", "239.255.0.2:\(mcast)", "--pps", "1200"],
            timeout: 60)
        #expect(replay.status == 0, "\(replay.stderr)")
        usleep(2_500_000)  // two more scrapes
        func value(_ result: [[String: Any]]) -> Double? {
            (result.first?["value"] as? [Any])?.last.flatMap { ($0 as? String).flatMap(Double.init) }
        }
        let total = value(try query(#"dsi_messages_total{feed="m"}"#))
        #expect(total == 60_000, "Prometheus holds the final count")
        let peak = value(try query(#"max_over_time(rate(dsi_messages_total{feed="m"}[3s])[30s:1s])"#)) ?? 0
        #expect(peak > 5_000, "a message rate while the replay ran: \(peak)/s")
        let gaps = try query(#"rate(dsi_gaps_total{feed="m"}[10s])"#)
        #expect(value(gaps) == 0, "the gap rate is answered, and is 0: \(gaps)")
        run.signal(SIGTERM)
        _ = try run.wait(timeout: 30)
    }
}
