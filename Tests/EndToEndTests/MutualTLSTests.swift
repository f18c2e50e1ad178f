import DSICore
import DSIFeeds
import DSINet
import DSIRuntime
import DSITestSupport
import DSITools
import Foundation
import Testing

/// Mutual TLS and entitlements on a real `dsi run`, with certificates from `dsi certs`, checked with clients DSI did
/// not write (openssl s_client, Python's ssl) and with its own: no certificate, another CA's certificate, TLS 1.2
/// and plain TCP are refused; an entitled client sees only its symbols and kinds, equal to `dsi ticks` of them; a
/// certificate no entitlement names is refused at login; a certificate made by the openssl CLI is entitled by its
/// DNS subjectAltName; SIGHUP reloads entitlements, dropping only the client that lost them, and rotates the server's
/// certificate to another CA's while the entitled clients keep their connections and every tick.
@Suite(.serialized) struct MutualTLSTests {
    @Test func certificatesAndEntitlementsAreEnforced() throws {
        let dir = try TemporaryDirectory("dsi-mtls")
        defer { dir.remove() }
        let certs = dir.path + "/certs", rogue = dir.path + "/rogue"
        let made = try Commands.run(
            Commands.dsi, ["certs", "--out", certs, "--client", "alice", "--client", "bob", "--client", "carol"])
        #expect(made.status == 0, "\(made.stderr)")
        #expect(try Commands.run(Commands.dsi, ["certs", "--out", rogue, "--client", "alice"]).status == 0)
        // dave's certificate comes from the openssl CLI, signed by the same CA: CN=dave-laptop, SAN risk.example.com.
        let request = try Commands.run(
            "openssl",
            [
                "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                dir.file("dave-key.pem"), "-out", dir.file("dave.csr"), "-subj", "/CN=dave-laptop", "-addext",
                "subjectAltName=DNS:risk.example.com",
            ])
        #expect(request.status == 0, "\(request.stderr)")
        let signed = try Commands.run(
            "openssl",
            [
                "x509", "-req", "-in", dir.file("dave.csr"), "-CA", "\(certs)/ca.pem", "-CAkey", "\(certs)/ca-key.pem",
                "-CAcreateserial", "-days", "2", "-copy_extensions", "copy", "-out", dir.file("dave.pem"),
            ])
        #expect(signed.status == 0, "\(signed.stderr)")
        // The server's certificate sits where a rotation can replace it.
        for file in ["server.pem", "server-key.pem"] {
            try FileManager.default.copyItem(atPath: "\(certs)/\(file)", toPath: dir.file(file))
        }
        var options = SessionGenerator.Options(messages: 12_000, seed: 8)
        options.symbols = 6
        try CaptureFile.write(try SessionGenerator.generate(options), to: dir.file("s.pcap"))
        let names = Array(
            Set(
                try jsonLines(
                    try Commands.run(Commands.dsi, ["ticks", dir.file("s.pcap"), "--feed", "mtls", "--format", "jsonl"]).stdout
                )
                .compactMap { $0["stock"] as? String }.filter { !$0.isEmpty })
        ).sorted()
        try #require(names.count >= 2)
        let tls = try FreePort.tcp(), mcast = try FreePort.udp()
        func config(bobEntitled: Bool) -> String {
            """
            feeds:
              - name: mtls
                protocol: moldudp64-itch50
                interface: 127.0.0.1
                lines:
                  - {name: A, group: "239.255.0.1:\(mcast)"}
                  - {name: B, group: "239.255.0.2:\(mcast)"}
                maxOrders: 100000
            publisher:
              listen: 127.0.0.1:\(tls)
              certificate: \(dir.file("server.pem"))
              key: \(dir.file("server-key.pem"))
              clientCA: \(certs)/ca.pem
              journal: \(dir.path)/journal
              entitlements:
                - {subject: "CN=alice", symbols: [\(names[0])], kinds: [trade, quote]}
                - {san: risk.example.com, symbols: [\(names[1])], kinds: [quote]}
            \(bobEntitled ? "    - {subject: \"CN=bob\", kinds: [trade]}" : "")
            """
        }
        try config(bobEntitled: true).write(toFile: dir.file("run.yaml"), atomically: true, encoding: .utf8)
        let run = try Commands.start(
            Commands.dsi, ["run", "--config", dir.file("run.yaml")], environment: ["DSI_STATE_DIR": dir.path])
        try EndToEndTests().waitForListening(tls, run)
        let endpoint = "127.0.0.1:\(tls)"

        // Refused below the protocol: no certificate, TLS 1.2, another CA's certificate, plain TCP.
        // In TLS 1.3 the client finishes its side first; the server's alert follows, so s_client must stay to read it.
        let bare = try Commands.run(
            "sh", ["-c", "sleep 1 | openssl s_client -connect \(endpoint) -tls1_3 -CAfile \(certs)/ca.pem"], timeout: 20)
        #expect((bare.stdout + bare.stderr).contains("certificate required"), "\(bare.stdout)\(bare.stderr)")
        let good = try Commands.run(
            "openssl",
            [
                "s_client", "-connect", endpoint, "-tls1_3", "-CAfile", "\(certs)/ca.pem", "-cert", "\(certs)/alice.pem", "-key",
                "\(certs)/alice-key.pem", "-brief",
            ],
            timeout: 20)
        #expect(good.stderr.contains("Verification: OK") && good.stderr.contains("TLSv1.3"), "\(good.stderr)")
        let old = try Commands.run(
            "openssl",
            [
                "s_client", "-connect", endpoint, "-tls1_2", "-cert", "\(certs)/alice.pem", "-key", "\(certs)/alice-key.pem",
                "-brief",
            ],
            timeout: 20)
        #expect(old.status != 0 && (old.stdout + old.stderr).contains("alert protocol version"), "\(old.stderr)")
        let python = """
            import socket, ssl, sys
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.load_verify_locations(sys.argv[2])
            if len(sys.argv) > 3:
                ctx.load_cert_chain(sys.argv[3], sys.argv[4])
            try:
                s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10), server_hostname="127.0.0.1")
                s.sendall(b"\\x00\\x01P")
                print("read", s.recv(100))
            except ssl.SSLError as e:
                print("refused", e.reason)
            """
        let noCert = try Commands.run("python3", ["-c", python, String(tls), "\(certs)/ca.pem"], timeout: 20)
        #expect(
            noCert.stdout.contains("refused CERTIFICATE_REQUIRED")
                || noCert.stdout.contains("refused TLSV13_ALERT_CERTIFICATE_REQUIRED"), "\(noCert.stdout)\(noCert.stderr)")
        let foreign = try Commands.run(
            "python3", ["-c", python, String(tls), "\(certs)/ca.pem", "\(rogue)/alice.pem", "\(rogue)/alice-key.pem"], timeout: 20
        )
        #expect(foreign.stdout.contains("refused") && foreign.stdout.contains("UNKNOWN_CA"), "\(foreign.stdout)\(foreign.stderr)")
        let plain = try Commands.run(
            "python3",
            [
                "-c",
                "import socket,sys; s=socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=10); s.sendall(b'hello\\n'); print('closed' if s.recv(100)[:1] in (b'', b'\\x15') else 'open')",
                String(tls),
            ],
            timeout: 20)
        #expect(plain.stdout.contains("closed"), "\(plain.stdout)\(plain.stderr)")

        // Entitled clients: alice (Python) asks for everything and gets her symbol's trades and quotes; asking for
        // another symbol is refused; carol's certificate is named by no entitlement; bob (dsi subscribe) takes trades.
        let mine = ["--ca", "\(certs)/ca.pem", "--cert", "\(certs)/alice.pem", "--key", "\(certs)/alice-key.pem"]
        // From the day's first tick (the journal): whenever her subscription lands, she misses nothing.
        let alice = try Commands.start(Commands.debianPython, [Commands.pythonClient, endpoint, "--from-seq", "1"] + mine)
        let dave = try Commands.start(
            Commands.debianPython,
            [
                Commands.pythonClient, endpoint, "--from-seq", "1", "--ca", "\(certs)/ca.pem", "--cert", dir.file("dave.pem"),
                "--key", dir.file("dave-key.pem"),
            ])
        let other = try Commands.run(
            Commands.debianPython, [Commands.pythonClient, endpoint, "--symbols", names[1]] + mine, timeout: 30)
        #expect(other.stderr.contains("request refused: notEntitled"), "\(other.stderr)")
        let carol = try Commands.run(
            Commands.debianPython,
            [
                Commands.pythonClient, endpoint, "--ca", "\(certs)/ca.pem", "--cert", "\(certs)/carol.pem", "--key",
                "\(certs)/carol-key.pem",
            ],
            timeout: 30)
        #expect(carol.stderr.contains("refused: notEntitled"), "\(carol.stderr)")
        let bob = try Commands.start(
            Commands.dsi,
            [
                "subscribe", endpoint, "--ca", "\(certs)/ca.pem", "--cert", "\(certs)/bob.pem", "--key", "\(certs)/bob-key.pem",
                "--format", "none",
            ])
        usleep(1_000_000)  // bob logged in and subscribed before the replay (alice reads from the journal anyway)
        let replay = try Commands.run(
            Commands.dsi,
            ["replay", dir.file("s.pcap"), "--to", "239.255.0.1:\(mcast)", "--to", "239.255.0.2:\(mcast)", "--pps", "4000"],
            timeout: 60)
        #expect(replay.status == 0, "\(replay.stderr)")
        usleep(1_000_000)
        // Bob loses his entitlement by a reload; alice and dave keep theirs, and their connections. The same reload
        // rotates the server's certificate to one of another CA.
        try config(bobEntitled: false).write(toFile: dir.file("run.yaml"), atomically: true, encoding: .utf8)
        for file in ["server.pem", "server-key.pem"] {
            try FileManager.default.removeItem(atPath: dir.file(file))
            try FileManager.default.copyItem(atPath: "\(rogue)/\(file)", toPath: dir.file(file))
        }
        run.signal(SIGHUP)
        let bobDone = try bob.wait(timeout: 20)
        #expect(bobDone.status != 0 && bobDone.stderr.contains("notEntitled"), "\(bobDone.stderr)")
        func handshake(trusting ca: String) throws -> Commands.Result {
            try Commands.run(
                "openssl",
                [
                    "s_client", "-connect", endpoint, "-tls1_3", "-CAfile", ca, "-verify_return_error", "-cert",
                    "\(certs)/alice.pem", "-key", "\(certs)/alice-key.pem", "-brief",
                ],
                timeout: 20)
        }
        let rotated = try handshake(trusting: "\(rogue)/ca.pem")
        #expect(rotated.stderr.contains("Verification: OK"), "the new chain is served: \(rotated.stderr)")
        let stale = try handshake(trusting: "\(certs)/ca.pem")
        #expect(stale.status != 0 && stale.stderr.contains("unable to get local issuer certificate"), "\(stale.stderr)")
        run.signal(SIGTERM)
        let stopped = try run.wait(timeout: 30)
        #expect(stopped.stderr.contains("SIGHUP: reloaded"), "\(stopped.stderr)")
        let aliceDone = try alice.wait(timeout: 30)
        #expect(aliceDone.status == 0, "\(aliceDone.stderr)")
        let expected = try jsonLines(
            try Commands.run(
                Commands.dsi,
                [
                    "ticks", dir.file("s.pcap"), "--feed", "mtls", "--symbols", names[0], "--kinds", "trade,quote", "--format",
                    "jsonl",
                ]
            ).stdout)
        let got = try jsonLines(aliceDone.stdout)
        #expect(got.count == expected.count && got.count > 10, "\(got.count) vs \(expected.count)")
        #expect(try got.map(comparable) == expected.map(comparable), "alice sees exactly her entitlement")
        #expect(got.allSatisfy { ($0["stock"] as? String ?? "") == names[0] || ($0["stock"] as? String ?? "").isEmpty })
        // dave, entitled by the SAN of a certificate DSI did not make, sees exactly his symbol's quotes.
        let daveDone = try dave.wait(timeout: 30)
        #expect(daveDone.status == 0, "\(daveDone.stderr)")
        let daveExpected = try jsonLines(
            try Commands.run(
                Commands.dsi,
                ["ticks", dir.file("s.pcap"), "--feed", "mtls", "--symbols", names[1], "--kinds", "quote", "--format", "jsonl"]
            ).stdout)
        let daveGot = try jsonLines(daveDone.stdout)
        #expect(daveGot.count == daveExpected.count && daveGot.count > 10, "\(daveGot.count) vs \(daveExpected.count)")
        #expect(try daveGot.map(comparable) == daveExpected.map(comparable), "dave sees exactly his entitlement")
    }
}
