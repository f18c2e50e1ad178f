import DSIClient
import DSICore
import DSIFeeds
import DSINet
import DSIRuntime
import DSITestSupport
import DSITools
import Foundation
import Logging
import Testing

/// `DSIClient` against a real handler: ticks as an `AsyncSequence`, the same, tick for tick, as the Python client's
/// (an implementation written from the protocol document alone) reading protobuf with Python's protobuf package;
/// and a client that loses its connection reconnects and resumes where it stopped, each tick once.
@Suite(.serialized) struct ClientTests {
    /// A handler on fresh loopback lines, with a journal (so resumes are served).
    func handler(_ dir: TemporaryDirectory) throws -> (FeedHandler, [IPv4Endpoint]) {
        let port = try FreePort.udp()
        var feed = FeedConfig(
            name: "client", interface: "127.0.0.1",
            lines: [LineConfig(name: "A", group: "239.255.0.1:\(port)"), LineConfig(name: "B", group: "239.255.0.2:\(port)")])
        feed.maxOrders = 100_000
        var publisher = PublisherConfig(listen: "127.0.0.1:0")
        publisher.stateDirectory = dir.path
        publisher.journal = dir.path + "/journal"
        let config = try HandlerConfig(feeds: [feed], publisher: publisher).validated(file: "(test)")
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        let handler = try FeedHandler(config: config, logger: logger)
        handler.start()
        return (handler, config.lines.map(\.group))
    }

    func replay(_ capture: String, to lines: [IPv4Endpoint]) throws {
        let r = try Commands.run(
            Commands.dsi, ["replay", capture, "--pps", "5000"] + lines.flatMap { ["--to", $0.description] }, timeout: 60)
        #expect(r.status == 0, "\(r.stderr)")
    }

    func comparable(_ tick: Tick) throws -> String {
        var t = tick
        t.receiveTime = 0
        return try canonical(JSONSerialization.jsonObject(with: Data(t.jsonLine.utf8)) as! [String: Any])
    }

    @Test func theSwiftAndPythonClientsAgreeTickForTick() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var options = SessionGenerator.Options(messages: 15_000, seed: 4)
        options.symbols = 6
        try CaptureFile.write(try SessionGenerator.generate(options), to: dir.file("s.pcap"))
        let (handler, lines) = try handler(dir)
        try replay(dir.file("s.pcap"), to: lines)
        let deadline = Date().addingTimeInterval(20)
        while !handler.sessionEnded && Date() < deadline { usleep(10_000) }
        let total = handler.ticksPublished
        try #require(total > 1_000)
        let endpoint = "127.0.0.1:\(handler.port)"
        // Both from the start of the day (the journal), both the same selection.
        let python = try Commands.run(
            Commands.debianPython,
            [
                Commands.pythonClient, endpoint, "--ca", handler.certificate, "--encoding", "protobuf", "--from-seq", "1",
                "--kinds", "trade,quote,status", "--idle-timeout", "3",
            ], timeout: 60)
        #expect(python.status == 0, "\(python.stderr)")
        var connection = TLSSubscriber.Options(host: "127.0.0.1", port: handler.port)
        connection.caFile = handler.certificate
        var clientOptions = DSIClient.Options(
            connection, selection: TickSelection(symbols: nil, kinds: [.trade, .quote, .status]))
        clientOptions.resumeAfter = 0
        let client = DSIClient(clientOptions)
        let wanted = python.stdout.split(separator: "\n").count
        var swift: [Tick] = []
        for try await tick in client.ticks() {
            swift.append(tick)
            if swift.count == wanted { break }
        }
        _ = handler.stop()
        let theirs = try jsonLines(python.stdout).map { o -> String in
            var c = o
            c["receiveTime"] = 0
            return try canonical(c)
        }
        #expect(theirs.count > 1_000)
        #expect(try swift.map(comparable) == theirs)
        #expect(client.statistics.missed == 0 && client.statistics.resumed >= 1, "\(client.statistics)")
    }

    /// A TCP relay that cuts the first connection to carry `cut` bytes toward the client (a network that fails
    /// mid-stream, with no end frame) and relays every other whole.
    static let relay = """
        import socket, sys, threading
        listen, target, cut = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", listen))
        server.listen()
        cut_pending = [True]
        def pipe(a, b, cuts):
            sent = 0
            try:
                while True:
                    data = a.recv(65536)
                    if not data:
                        break
                    if cuts and cut_pending[0] and sent + len(data) >= cut:
                        b.sendall(data[:cut - sent])
                        cut_pending[0] = False
                        break
                    b.sendall(data)
                    sent += len(data)
            except OSError:
                pass
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
        while True:
            client, _ = server.accept()
            upstream = socket.create_connection(("127.0.0.1", target))
            threading.Thread(target=pipe, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=pipe, args=(upstream, client, True), daemon=True).start()
        """

    @Test func theClientResumesAfterALostConnection() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var options = SessionGenerator.Options(messages: 40_000, seed: 6)
        options.symbols = 8
        try CaptureFile.write(try SessionGenerator.generate(options), to: dir.file("s.pcap"))
        let (handler, lines) = try handler(dir)
        defer { _ = handler.stop() }
        try replay(dir.file("s.pcap"), to: lines)
        let deadline = Date().addingTimeInterval(20)
        while !handler.sessionEnded && Date() < deadline { usleep(10_000) }
        let total = handler.ticksPublished
        try #require(total > 5_000)
        let port = try FreePort.tcp()
        let relay = try Commands.start("python3", ["-c", Self.relay, String(port), String(handler.port), "200000"])
        defer { relay.signal(SIGKILL) }
        let up = Date().addingTimeInterval(10)
        while Date() < up {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = port.bigEndian
            a.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
            let ok = withUnsafePointer(to: &a) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            close(fd)
            if ok == 0 { break }
            usleep(50_000)
        }
        var connection = TLSSubscriber.Options(host: "127.0.0.1", port: port)
        connection.caFile = handler.certificate
        var clientOptions = DSIClient.Options(connection)
        clientOptions.resumeAfter = 0
        let client = DSIClient(clientOptions)
        var got: [UInt64] = []
        for try await tick in client.ticks() {
            got.append(tick.streamSeq)
            if got.count == Int(total) { break }
        }
        #expect(got == Array(1...total), "every tick once, in order, across the cut")
        let stats = client.statistics
        #expect(stats.connections == 2 && stats.resumed == 2 && stats.missed == 0, "\(stats)")
    }
}
