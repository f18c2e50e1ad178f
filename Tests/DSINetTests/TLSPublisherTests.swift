import DSICore
import DSINet
import DSIRuntime
import DSITestSupport
import Foundation
import Logging
import Testing

/// The publisher on a real libuv loop with real OpenSSL, polled by a thread like its worker (with sleeps, never spins).
final class PublisherHarness: @unchecked Sendable {
    let publisher: TLSPublisher
    let ring = SPSCRing(capacity: 1 << 16, slotSize: MemoryLayout<Tick>.stride)
    let dir: TemporaryDirectory
    private let stop = NSLock()
    private var stopping = false
    private var thread: Thread?
    private let finished = DispatchSemaphore(value: 0)

    init(
        maxQueuedBytes: Int = 8 << 20, handshakeTimeoutNanos: UInt64 = 5_000_000_000,
        limits: ConnectionLimits = ConnectionLimits(), subscriberLimits: SubscriberLimits = SubscriberLimits(),
        journal: TLSPublisher.JournalOptions? = nil, slowConsumer: TLSPublisher.SlowConsumerPolicy = .disconnect,
        conflateGraceNanos: UInt64 = 10_000_000_000, certificate: String? = nil, key: String? = nil,
        logger: Logger = Logger(label: "test")
    ) throws {
        dir = try TemporaryDirectory("dsi-tls")
        try SelfSignedCertificate.generate(certificate: dir.file("cert.pem"), key: dir.file("key.pem"))
        var options = TLSPublisher.Options(
            listen: IPv4Endpoint("127.0.0.1:0")!, certificate: certificate ?? dir.file("cert.pem"),
            key: key ?? dir.file("key.pem"))
        options.maxQueuedBytes = maxQueuedBytes
        options.limits = limits
        options.limits.handshakeTimeoutNanos = handshakeTimeoutNanos
        options.subscriberLimits = subscriberLimits
        options.journal = journal
        options.slowConsumer = slowConsumer
        options.conflateGraceNanos = conflateGraceNanos
        publisher = try TLSPublisher(options, logger: logger)
    }

    func start() {
        let t = Thread { [self] in
            while !isStopping { if publisher.poll(ring: ring) == 0 { usleep(100) } }
            publisher.finish(ring: ring)
            finished.signal()
        }
        thread = t
        t.start()
    }

    var isStopping: Bool { stop.lock(); defer { stop.unlock() }; return stopping }

    func finish() {
        stop.lock(); stopping = true; stop.unlock()
        finished.wait()
        dir.remove()
    }

    /// Publishes ticks with stream sequence numbers from `first` (the pipeline's job in the handler).
    func publish(_ count: Int, first: UInt64) {
        for i in 0..<count {
            while ring.claim() == nil { usleep(100) }
            var t = Tick(kind: .trade)
            t.streamSeq = first + UInt64(i)
            t.seq = 1000 + UInt64(i)
            t.price = UInt32(i)
            t.stock = Symbol("ZXT")
            ring.claim()!.storeBytes(of: t, as: Tick.self)
            ring.commit()
        }
    }

    /// Publishes `ticks` as the pipeline would hand them over (the publisher numbers them).
    func publish(_ ticks: [Tick]) {
        for t in ticks {
            while ring.claim() == nil { usleep(100) }
            ring.claim()!.storeBytes(of: t, as: Tick.self)
            ring.commit()
        }
    }

    /// Waits until the publisher has numbered `n` ticks.
    func waitForPublished(_ n: UInt64) throws {
        let deadline = Clock.monotonicNanos() + 10_000_000_000
        while publisher.ticksPublished.load < n {
            if Clock.monotonicNanos() > deadline { throw Commands.TimedOut(command: "publishing", stderr: "") }
            usleep(1000)
        }
    }

    func subscriberOptions() -> TLSSubscriber.Options {
        var o = TLSSubscriber.Options(host: "127.0.0.1", port: publisher.port)
        o.caFile = dir.file("cert.pem")
        o.idleTimeoutNanos = 10_000_000_000
        return o
    }

    func waitForSubscribers(_ n: UInt64) throws {
        let deadline = Clock.monotonicNanos() + 5_000_000_000
        while publisher.subscribers.load < n {
            if Clock.monotonicNanos() > deadline { throw Commands.TimedOut(command: "subscriber accept", stderr: "") }
            usleep(1000)
        }
    }
}

@Suite(.serialized) struct TLSPublisherTests {
    @Test func deliversEveryTickInOrderThenEnds() throws {
        let harness = try PublisherHarness()
        harness.start()
        let subscriber = try TLSSubscriber(harness.subscriberOptions())
        #expect(subscriber.tlsVersion == "TLSv1.3")
        try subscriber.subscribe(.all)
        harness.publish(5000, first: 1)
        var got: [Tick] = []
        let end = try subscriber.run(limit: 5000) { got.append($0) }
        #expect(end == .count)
        #expect(got.map(\.streamSeq) == Array(1...5000))
        #expect(got[4999].price == 4999 && got[0].stock.description == "ZXT")
        #expect(subscriber.ticksMissed == 0)
        harness.finish()
        let after = try subscriber.run { _ in }
        #expect(after == .endOfStream(lastStreamSeq: 5000))
    }

    /// A subscriber that never reads falls behind and is cut off; a reading one gets everything meanwhile.
    @Test func slowConsumerIsDisconnectedOthersUnaffected() throws {
        let harness = try PublisherHarness(maxQueuedBytes: 256 << 10)
        harness.start()
        let slow = try TLSSubscriber(harness.subscriberOptions())  // subscribed, never reads
        try slow.subscribe(.all)
        let fast = try TLSSubscriber(harness.subscriberOptions())
        try fast.subscribe(.all)
        let total = 60_000
        nonisolated(unsafe) var received = 0
        nonisolated(unsafe) var end: TLSSubscriber.End? = nil
        let reader = BackgroundThread {
            end = try? fast.run(limit: UInt64(total)) { _ in received += 1 }
        }
        harness.publish(total, first: 1)
        reader.join()
        #expect(end == .count)
        #expect(received == total)
        #expect(harness.publisher.slowConsumerDisconnects.load == 1)
        harness.finish()
        _ = slow
    }

    @Test func badCertificateAndKeyPathsAreNamed() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let listen = IPv4Endpoint("127.0.0.1:0")!
        #expect {
            try TLSPublisher(
                .init(listen: listen, certificate: "/nonexistent/cert.pem", key: "/nonexistent/key.pem"),
                logger: Logger(label: "t"))
        } throws: { "\($0)".contains("/nonexistent/cert.pem") }
        _ = FileManager.default.createFile(
            atPath: dir.file("bad.pem"), contents: Data("-----BEGIN CERTIFICATE-----\nnope\n".utf8))
        #expect {
            try TLSPublisher(
                .init(listen: listen, certificate: dir.file("bad.pem"), key: dir.file("bad.pem")), logger: Logger(label: "t"))
        } throws: { "\($0)".contains("bad.pem") }
        // A key that is not the certificate's.
        try SelfSignedCertificate.generate(certificate: dir.file("c1.pem"), key: dir.file("k1.pem"))
        try SelfSignedCertificate.generate(certificate: dir.file("c2.pem"), key: dir.file("k2.pem"))
        #expect {
            try TLSPublisher(
                .init(listen: listen, certificate: dir.file("c1.pem"), key: dir.file("k2.pem")), logger: Logger(label: "t"))
        } throws: { "\($0)".contains("does not match") }
    }

    @Test func portInUseIsReported() throws {
        let first = try PublisherHarness()
        defer { first.dir.remove() }
        let taken = IPv4Endpoint(address: IPv4Address("127.0.0.1")!, port: first.publisher.port)
        #expect {
            try TLSPublisher(
                .init(listen: taken, certificate: first.dir.file("cert.pem"), key: first.dir.file("key.pem")),
                logger: Logger(label: "t"))
        } throws: { "\($0)".contains("address already in use") }
    }

    @Test func subscriberRefusesAnUntrustedCertificate() throws {
        let harness = try PublisherHarness()
        harness.start()
        defer { harness.finish() }
        let other = try TemporaryDirectory()
        defer { other.remove() }
        try SelfSignedCertificate.generate(certificate: other.file("c.pem"), key: other.file("k.pem"))
        var options = harness.subscriberOptions()
        options.caFile = other.file("c.pem")
        #expect { try TLSSubscriber(options) } throws: { "\($0)".contains("certificate verification failed") }
        // The client's alert reaches the publisher, which counts a failed handshake.
        let deadline = Clock.monotonicNanos() + 3_000_000_000
        while harness.publisher.handshakeFailures.load == 0 && Clock.monotonicNanos() < deadline { usleep(1000) }
        #expect(harness.publisher.handshakeFailures.load == 1)
    }
}

/// Clients that misbehave below TLS: silence and garbage. Each is cut off; a good subscriber is unaffected.
@Suite(.serialized) struct MisbehavingClientTests {
    func connectRaw(_ port: UInt16) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        a.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
        let rc = withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(rc == 0)
        return fd
    }

    /// Reads until the publisher closes the connection; returns whether it did within `seconds`.
    func closedByPeer(_ fd: Int32, within seconds: Int) -> Bool {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 { return true }  // orderly close
            if n < 0 { return errno == ECONNRESET }
        }
    }

    @Test func silentClientIsClosedAfterTheHandshakeTimeout() throws {
        let harness = try PublisherHarness(handshakeTimeoutNanos: 300_000_000)
        harness.start()
        defer { harness.finish() }
        let fd = try connectRaw(harness.publisher.port)
        defer { close(fd) }
        #expect(closedByPeer(fd, within: 5))
        #expect(harness.publisher.handshakeTimeouts.load == 1)
        // A real subscriber still gets through afterwards.
        let good = try TLSSubscriber(harness.subscriberOptions())
        #expect(good.tlsVersion == "TLSv1.3")
    }

    @Test func garbageInsteadOfTLSIsRefused() throws {
        let harness = try PublisherHarness()
        harness.start()
        defer { harness.finish() }
        let fd = try connectRaw(harness.publisher.port)
        defer { close(fd) }
        let junk = Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        _ = junk.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        #expect(closedByPeer(fd, within: 5))
        #expect(harness.publisher.handshakeFailures.load == 1)
    }
}

/// Subscribers that break the protocol after the handshake, driven by Python's ssl (a TLS stack DSI did not write) and
/// the Python client's framing: each is cut off with a goodbye that names what it did, or (a forged record) with a TLS
/// alert; a real subscriber is unaffected by all of them.
@Suite(.serialized) struct MisbehavingSubscriberTests {
    static let client = """
        import os, socket, ssl, struct, sys, time
        sys.path.insert(0, sys.argv[3])
        import dsi_client as d
        port, mode = int(sys.argv[1]), sys.argv[2]
        if mode == "nologin":
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10))
            s.sendall(d.frame("S", struct.pack(">IBBH", 1, 15, 1, 0)))
            c = d.Client.__new__(d.Client)
            c.sock, c.buffer, c.last_write, c.encoding = s, b"", time.monotonic() + 1e9, "binary"
        else:
            c = d.Client("127.0.0.1", port, insecure=True)
            if mode == "huge":
                c.send(struct.pack(">HB", 5000, ord("S")) + b"x" * 4999)
            elif mode == "garbage":
                c.send(d.frame("S", struct.pack(">IBBH", 1, 0x40, 1, 0)))
            elif mode == "flood":
                c.send(d.frame("P") * 1000)
            elif mode == "unknown":
                c.send(d.frame("Z", b"hi"))
                c.subscribe()
            elif mode == "forged":
                # A record of the right shape whose contents do not decrypt, written under the TLS layer.
                raw = socket.fromfd(c.sock.fileno(), socket.AF_INET, socket.SOCK_STREAM)
                raw.settimeout(5)
                raw.sendall(b"\\x17\\x03\\x03\\x00\\x40" + os.urandom(64))
                try:
                    c.sock.recv(4096)
                    said = "no alert"
                except ssl.SSLError as e:
                    said = e.reason
                print(said, flush=True)
                sys.exit(0)
        try:
            for kind, body in c.events():
                if kind == "error":
                    print("error", body["code"], flush=True)
                if kind == "subscribed":
                    print("subscribed", flush=True)
                    break
            print("served", flush=True)
        except d.Refused as e:
            print("goodbye", str(e).split(":")[0], flush=True)
        except (EOFError, ConnectionResetError):
            print("closed", flush=True)
        """

    func run(_ port: UInt16, _ mode: String) throws -> String {
        let result = try Commands.run(
            "python3", ["-c", Self.client, String(port), mode, Commands.root + "/tools/clients/python"], timeout: 30)
        return result.stdout + result.stderr
    }

    @Test func protocolBreakersAreCutOffInWordsAndOthersAreServed() throws {
        let harness = try PublisherHarness()
        harness.start()
        defer { harness.finish() }
        let good = try TLSSubscriber(harness.subscriberOptions())
        try good.subscribe(.all)
        try harness.waitForSubscribers(1)
        let port = harness.publisher.port
        #expect(try run(port, "nologin") == "goodbye notLoggedIn\n")
        #expect(try run(port, "huge") == "goodbye frameTooLarge\n")
        #expect(try run(port, "garbage") == "goodbye malformedFrame\n")
        #expect(try run(port, "flood") == "goodbye rateLimited\n")
        #expect(
            try run(port, "unknown") == "error unknownFrameType\nsubscribed\nserved\n", "an unknown frame is refused, not fatal")
        #expect(try run(port, "forged") == "SSLV3_ALERT_BAD_RECORD_MAC\n")
        #expect(harness.publisher.protocolErrors.load == 4)
        #expect(harness.publisher.streamErrors.load == 1)
        harness.publish(50, first: 1)
        var received = 0
        #expect(try good.run(limit: 50) { _ in received += 1 } == .count)
        #expect(received == 50, "the real subscriber is still served")
    }

    /// A client that completes the handshake but never logs in is cut off when the login deadline passes.
    @Test func aClientThatNeverLogsInIsCutOff() throws {
        var limits = SubscriberLimits()
        limits.loginTimeoutNanos = 300_000_000
        let harness = try PublisherHarness(subscriberLimits: limits)
        harness.start()
        defer { harness.finish() }
        let silent = """
            import socket, ssl, sys
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10))
            data = b""
            while True:
                more = s.recv(4096)
                if not more:
                    break
                data += more
            print(data[2:3].decode(), int.from_bytes(data[3:5], "big"), data[5:].decode())
            """
        let result = try Commands.run("python3", ["-c", silent, String(harness.publisher.port)], timeout: 30)
        #expect(result.stdout.hasPrefix("G 13 no login within 300 ms"), "\(result.stdout)\(result.stderr)")
        #expect(harness.publisher.protocolErrors.load == 1)
    }
}
