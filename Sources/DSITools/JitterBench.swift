import CDSIShims
import DSICore
import DSIFeeds
import DSINet
import DSIPcap
import DSIRuntime
import Foundation
import Logging

/// `dsi bench jitter`: a capture replayed at a constant offered rate into a handler on loopback (two lines, the
/// handler's pipeline and publisher workers, a TLS subscriber), every tick timed at each stage: the kernel's receive
/// stamp, in the publish ring, taken by the publisher, its TLS record handed to the socket, received by the
/// subscriber. The replay keeps to its schedule whatever the handler does, so a slow handler cannot slow the offered
/// load and hide its own delay (coordinated omission): every tick's latency is from when the kernel received it.
public struct JitterBench {
    public struct Options {
        public var capture: String
        public var pacing: ReplayPacer.Mode = .original(speed: 1)
        /// Passes over the capture (`Replayer.loops`): a short capture made long enough at a high rate.
        public var loops = 1
        /// CPUs for the replayer (this thread), the pipeline and publisher workers, and the subscriber thread.
        public var replayCPU: Int? = nil
        public var pipelineCPU = 0
        public var publisherCPU = ProcessInfo.processInfo.activeProcessorCount > 1 ? 1 : 0
        public var subscriberCPU: Int? = nil
        public var idle: IdleStrategyKind = .backoff
        /// The replayer spins this long before each packet is due (`Replayer.spinThresholdNanos`); 0 sleeps only,
        /// which leaves a shared CPU to the handler at the cost of pacing error.
        public var replaySpinNanos: UInt64 = 100_000
        public var progress: ProgressLine? = nil

        public init(capture: String) { self.capture = capture }
    }

    /// Names of the stages, in order, and of the whole.
    public static let stageNames = ["receive→ring", "ring→publisher", "publisher→written", "written→subscriber"]
    public static let endToEnd = "receive→subscriber"

    public struct Result: Sendable {
        public var messages = 0
        public var datagrams = 0
        public var ticks = 0
        /// Ticks with every stamp (status ticks the pipeline makes itself have no kernel stamp).
        public var timed = 0
        public var offeredRate = 0.0
        public var achievedRate = 0.0
        public var pacingP99: UInt64 = 0
        public var kernelDrops: UInt64 = 0
        public var lostMessages: UInt64 = 0
        public var seconds = 0.0
        /// Per stage and end to end (`stageNames`, then `endToEnd`).
        public var histograms: [(String, LatencyHistogram)] = []
        public var placement = ""
    }

    public let options: Options
    let logger: Logger

    public init(options: Options, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    public func run() throws -> Result {
        let plan = try ReplayPlan(path: options.capture)
        let directory = NSTemporaryDirectory() + "dsi-jitter-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // At most two ticks per message (an execution: a trade and a quote), and room for status ticks.
        let stamps = StageStamps(capacity: 2 * plan.messages * options.loops + 10_000)
        let handler = try startHandler(directory: directory, stamps: stamps)
        defer { _ = handler.stop() }

        var subscriberOptions = TLSSubscriber.Options(host: "127.0.0.1", port: handler.port)
        subscriberOptions.caFile = handler.certificate
        subscriberOptions.idleTimeoutNanos = 30_000_000_000
        let subscriber = try TLSSubscriber(subscriberOptions)
        try subscriber.subscribe(.all)
        let received = Arrivals(capacity: stamps.capacity)
        let done = DispatchSemaphore(value: 0)
        let cpu = options.subscriberCPU
        Thread {
            if let cpu { _ = CDSIShims_pin_current_thread(Int32(cpu)) }
            do {
                _ = try subscriber.run { tick in received.note(tick, at: Clock.realtimeNanos()) }
            } catch {
                received.error = error
            }
            done.signal()
        }.start()

        if let cpu = options.replayCPU { _ = CDSIShims_pin_current_thread(Int32(cpu)) }
        var replayer = Replayer(destinations: handler.config.lines.map(\.group), pacing: options.pacing)
        replayer.progress = options.progress
        replayer.loops = options.loops
        replayer.spinThresholdNanos = options.replaySpinNanos
        let report = try replayer.replay(path: options.capture)
        try waitUntil("the end of session", timeoutNanos: 60_000_000_000) {
            (handler.sessionEnded && handler.ingestEmpty) || handler.failure != nil
        }
        if let failure = handler.stop() { throw failure }
        done.wait()
        if let error = received.error { throw error }

        var result = Result()
        result.messages = report.messages
        result.datagrams = report.datagrams
        result.ticks = received.count
        result.offeredRate = report.intendedNanos > 0 ? Double(report.datagrams) / (Double(report.intendedNanos) / 1e9) : 0
        result.achievedRate = report.rate
        result.pacingP99 = report.lateness.p99
        result.kernelDrops = handler.kernelDrops
        result.lostMessages = handler.counters.lostMessages.load
        result.seconds = report.seconds
        result.placement =
            "replay CPU \(options.replayCPU.map(String.init) ?? "any"), pipeline CPU \(options.pipelineCPU), "
            + "publisher CPU \(options.publisherCPU), subscriber CPU \(options.subscriberCPU.map(String.init) ?? "any"), "
            + "idle \(options.idle), replay spin \(options.replaySpinNanos / 1_000) µs"
        var stages = Array(repeating: LatencyHistogram(), count: Self.stageNames.count)
        var whole = LatencyHistogram()
        for seq in 1...UInt64(max(1, stamps.capacity)) {
            let (kernel, arrived) = received.times(seq)
            guard kernel > 0, arrived > 0 else { continue }
            let points = [
                kernel, stamps.time(.inRing, seq), stamps.time(.dequeued, seq), stamps.time(.written, seq), arrived,
            ]
            guard !points.contains(0) else { continue }
            for i in 0..<stages.count { stages[i].record(points[i + 1] >= points[i] ? points[i + 1] - points[i] : 0) }
            whole.record(arrived >= kernel ? arrived - kernel : 0)
            result.timed += 1
        }
        result.histograms = zip(Self.stageNames, stages).map { ($0, $1) } + [(Self.endToEnd, whole)]
        return result
    }

    func startHandler(directory: String, stamps: StageStamps) throws -> FeedHandler {
        let port = try FreePort.udp()
        var feed = FeedConfig(
            name: "jitter", interface: "127.0.0.1",
            lines: [LineConfig(name: "A", group: "239.255.0.1:\(port)"), LineConfig(name: "B", group: "239.255.0.2:\(port)")])
        feed.receiveBuffer = 16 << 20
        var publisher = PublisherConfig(listen: "127.0.0.1:0")
        publisher.stateDirectory = directory
        let config = try HandlerConfig(
            feeds: [feed], publisher: publisher,
            workers: [
                WorkerConfig(name: "pipeline", cpu: options.pipelineCPU, idle: options.idle),
                WorkerConfig(name: "publisher", cpu: options.publisherCPU, idle: options.idle),
            ]
        ).validated(file: "(bench jitter)")
        let handler = try FeedHandler(config: config, logger: logger, stamps: stamps)
        handler.start()
        return handler
    }
}

/// What the subscriber received, by stream sequence: the tick's kernel stamp and when it arrived. Written by the
/// subscriber thread only, read after it ends (a semaphore orders the two).
final class Arrivals: @unchecked Sendable {
    private var kernel: [UInt64]
    private var arrived: [UInt64]
    private(set) var count = 0
    var error: Error? = nil

    init(capacity: Int) {
        kernel = Array(repeating: 0, count: capacity + 1)
        arrived = Array(repeating: 0, count: capacity + 1)
    }

    func note(_ tick: Tick, at now: UInt64) {
        count += 1
        let i = Int(clamping: tick.streamSeq)
        guard i >= 1 && i < kernel.count else { return }
        kernel[i] = tick.receiveTime
        arrived[i] = now
    }

    func times(_ seq: UInt64) -> (kernel: UInt64, arrived: UInt64) {
        let i = Int(clamping: seq)
        return i < kernel.count ? (kernel[i], arrived[i]) : (0, 0)
    }
}
