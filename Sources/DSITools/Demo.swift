import Atomics
import DSICore
import DSIFeeds
import DSINet
import DSIPcap
import DSIRuntime
import Foundation
import Logging

/// `dsi demo`: the whole path on loopback in one process. A synthetic session is written to a pcap, replayed to two
/// multicast lines, handled (arbitration, books, ticks), published over TLS 1.3 and read back by a verifying
/// subscriber; then the counts and the latency from kernel receive to subscriber receipt are summarised.
public struct Demo {
    public struct Options: Sendable {
        public var messages = 50_000
        public var seed: UInt64 = 1
        /// Replay speed relative to the capture's own pacing.
        public var speed = 1.0
        public var directory: String? = nil
        /// The handler's workers' idle strategy (`backoff` by default: the demo shares two cores with itself).
        public var idle: IdleStrategyKind = .backoff
        public init() {}
    }

    public struct Summary: Codable, Sendable {
        public var messagesSent: Int
        public var messagesReceived: UInt64
        public var duplicatesDropped: UInt64
        public var ticksPublished: UInt64
        public var ticksDelivered: UInt64
        public var gaps: UInt64
        public var lostMessages: UInt64
        public var kernelDrops: UInt64
        public var streamGaps: UInt64
        public var tls: String
        public var latency: Latency
        public var seconds: Double

        public struct Latency: Codable, Sendable {
            public var p50: UInt64
            public var p99: UInt64
            public var max: UInt64
        }
    }

    public let options: Options
    let logger: Logger

    public init(options: Options, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    /// The usual receive buffer, or what the kernel grants this user when that is less (said in the log): the demo
    /// runs for anyone, where `dsi run` refuses a buffer smaller than its configuration asks for.
    func receiveBuffer() -> Int {
        let usual = FeedConfig.defaultReceiveBuffer
        do {
            try MulticastReceiver.checkReceiveBuffer(usual)
            return usual
        } catch let error as ReceiveBufferTooSmall {
            logger.notice(
                "the kernel grants this user a \(error.granted)-byte receive buffer per line (net.core.rmem_max); the demo uses that"
            )
            return max(error.granted, 65_536)
        } catch {
            return usual  // the handler's own socket setup will say what is wrong
        }
    }

    public func run() throws -> Summary {
        let started = Clock.monotonicNanos()
        let directory = options.directory ?? NSTemporaryDirectory() + "dsi-demo-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { if options.directory == nil { try? FileManager.default.removeItem(atPath: directory) } }

        // 1. A session, written as a real pcap.
        var generation = SessionGenerator.Options(messages: options.messages, seed: options.seed)
        generation.symbols = 16
        let session = try SessionGenerator.generate(generation)
        let pcap = directory + "/demo.pcap"
        try CaptureFile.write(session, to: pcap)
        logger.info("generated \(session.messageCount) messages in \(session.packets.count) packets: \(pcap)")

        // 2. The handler on two loopback lines and an ephemeral TLS port.
        let port = try FreePort.udp()
        var feed = FeedConfig(
            name: "demo", interface: "127.0.0.1",
            lines: [LineConfig(name: "A", group: "239.255.0.1:\(port)"), LineConfig(name: "B", group: "239.255.0.2:\(port)")])
        feed.receiveBuffer = receiveBuffer()
        let handlerConfig = HandlerConfig(
            feeds: [feed],
            publisher: {
                var p = PublisherConfig(listen: "127.0.0.1:0")
                p.stateDirectory = directory
                return p
            }(),
            workers: [
                WorkerConfig(name: "pipeline", cpu: 0, idle: options.idle),
                WorkerConfig(
                    name: "publisher", cpu: ProcessInfo.processInfo.activeProcessorCount > 1 ? 1 : 0, idle: options.idle),
            ])
        let config = try handlerConfig.validated(file: "(demo)")
        let handler = try FeedHandler(config: config, logger: logger)
        handler.start()
        defer { _ = handler.stop() }

        // 3. A subscriber that verifies the publisher's certificate, on its own thread.
        var subscriberOptions = TLSSubscriber.Options(host: "127.0.0.1", port: handler.port)
        subscriberOptions.caFile = handler.certificate
        subscriberOptions.idleTimeoutNanos = 30_000_000_000
        let subscriber = try TLSSubscriber(subscriberOptions)
        try subscriber.subscribe(.all)  // acknowledged before the replay starts: every tick reaches it
        let result = SubscriberResult()
        let subscriberDone = DispatchSemaphore(value: 0)
        let subscriberThread = Thread {
            var histogram = LatencyHistogram()
            do {
                _ = try subscriber.run { tick in
                    let now = Clock.realtimeNanos()
                    histogram.record(now >= tick.receiveTime ? now - tick.receiveTime : 0)
                }
            } catch {
                result.error = error
            }
            result.latency = histogram
            subscriberDone.signal()
        }
        subscriberThread.start()
        // The subscriber is connected once the publisher counts it; ticks sent before that would not reach it.
        try waitUntil("the subscriber to be accepted", timeoutNanos: 5_000_000_000) { handler.publisher.subscribers.load == 1 }

        // 4. Replay to both lines; the handler arbitrates.
        var replayer = Replayer(destinations: config.lines.map(\.group), pacing: .original(speed: options.speed))
        replayer.spinThresholdNanos = 0  // one process on a small machine: the replayer must not take a core
        let report = try replayer.replay(path: pcap)
        logger.info(
            "replayed \(report.datagrams) datagrams to \(config.lines.count) lines in \(String(format: "%.3f", report.seconds)) s"
        )

        // 5. Wait for the end of session to be handled, then drain and stop.
        try waitUntil("the end of session", timeoutNanos: 30_000_000_000) {
            (handler.sessionEnded && handler.ingestEmpty) || handler.failure != nil
        }
        if let failure = handler.stop() { throw failure }
        subscriberDone.wait()
        if let error = result.error { throw error }

        let latency = result.latency.summary
        return Summary(
            messagesSent: session.messageCount,
            messagesReceived: handler.counters.messages.load,
            duplicatesDropped: handler.counters.duplicateMessages.load,
            ticksPublished: handler.publisher.ticksPublished.load,
            ticksDelivered: subscriber.ticksReceived,
            gaps: handler.counters.gaps.load,
            lostMessages: handler.counters.lostMessages.load,
            kernelDrops: handler.kernelDrops,
            streamGaps: subscriber.ticksMissed,
            tls: subscriber.tlsVersion,
            latency: .init(p50: latency.p50, p99: latency.p99, max: latency.max),
            seconds: Double(Clock.monotonicNanos() - started) / 1e9)
    }
}

/// What the subscriber thread hands back. @unchecked Sendable: written before the semaphore signal, read after wait.
final class SubscriberResult: @unchecked Sendable {
    var latency = LatencyHistogram()
    var error: Error?
}

struct TimeoutError: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Polls `condition` every millisecond until it holds or the time is up.
func waitUntil(_ what: String, timeoutNanos: UInt64, _ condition: () -> Bool) throws {
    let deadline = Clock.monotonicNanos() + timeoutNanos
    while !condition() {
        if Clock.monotonicNanos() > deadline { throw TimeoutError(what: what) }
        Clock.sleep(nanos: 1_000_000)
    }
}
