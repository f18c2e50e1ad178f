import DSICore
import DSIPcap
import Logging

/// `dsi bench sweep`: the jitter benchmark at increasing offered rates, until messages are lost, the replayer cannot
/// offer the rate, the latency tail bends (p99 past `kneeFactor` times the first rate's), or the rates run out: how
/// much headroom a deployment has.
public struct SweepBench {
    public struct Options {
        /// The jitter benchmark's settings (capture, thread placement); its pacing and loops are set per step.
        public var jitter: JitterBench.Options
        public var rates: [Double]
        /// Each step replays the capture enough times to last at least this long.
        public var minSeconds = 2.0
        public var kneeFactor = 10.0

        public init(jitter: JitterBench.Options, rates: [Double]) {
            self.jitter = jitter
            self.rates = rates
        }
    }

    public struct Step: Sendable {
        public var rate: Double
        public var result: JitterBench.Result
        public var latency: LatencyHistogram { result.histograms.last!.1 }
    }

    public let options: Options
    let logger: Logger

    public init(options: Options, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    /// Runs the steps in order, handing each to `onStep` as it ends; returns them and why the sweep stopped.
    public func run(onStep: (Step) -> Void = { _ in }) throws -> (steps: [Step], stop: String) {
        let datagrams = try ReplayPlan(path: options.jitter.capture).datagrams
        guard datagrams > 0 else { throw PcapError(path: options.jitter.capture, reason: "no UDP datagrams to replay") }
        var steps: [Step] = []
        for rate in options.rates {
            var jitter = options.jitter
            jitter.pacing = .packetsPerSecond(rate)
            jitter.loops = max(1, Int((options.minSeconds * rate / Double(datagrams)).rounded(.up)))
            let result = try JitterBench(options: jitter, logger: logger).run()
            let step = Step(rate: rate, result: result)
            steps.append(step)
            onStep(step)
            if result.lostMessages > 0 || result.kernelDrops > 0 {
                return (
                    steps, "loss at \(Int(rate)) packets/s: \(result.lostMessages) messages, \(result.kernelDrops) kernel drops"
                )
            }
            if result.achievedRate < 0.9 * rate {
                return (steps, "the replayer offered only \(Int(result.achievedRate)) of \(Int(rate)) packets/s")
            }
            let first = steps[0].latency.percentile(99)
            if steps.count > 1, first > 0, Double(step.latency.percentile(99)) > options.kneeFactor * Double(first) {
                return (steps, "latency knee at \(Int(rate)) packets/s: p99 over \(options.kneeFactor) times the first rate's")
            }
        }
        return (steps, "all rates ran without loss or knee")
    }
}
