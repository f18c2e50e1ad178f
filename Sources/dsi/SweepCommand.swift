import ArgumentParser
import DSICore
import DSITools
import Foundation

struct SweepBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "The jitter benchmark at rising offered rates, until loss or a latency knee: the headroom table.",
        discussion: """
            Rates start at --start packets/s and grow by --factor up to --max. Each step replays the capture (looped \
            as needed to last --seconds) into a fresh handler and reports end-to-end latency (kernel receive to \
            subscriber). The sweep stops at the first loss (handler or kernel), when the replayer cannot offer the \
            rate, or when p99 passes --knee times the first step's.
            """)

    @Argument(help: "The pcap or pcapng file (MoldUDP64).") var file: String
    @Option(help: "The first offered rate, packets/s.") var start = 10_000.0
    @Option(help: "Each step's rate over the one before.") var factor = 2.0
    @Option(help: "The highest rate tried, packets/s.") var max = 1_000_000.0
    @Option(help: "Each step lasts at least this long (the capture is looped).") var seconds = 2.0
    @Option(help: "Stop when p99 exceeds this multiple of the first step's p99.") var knee = 10.0
    @OptionGroup var placement: PlacementOptions
    @Option(help: "Draw latency percentiles against rate to a PNG (tools/plot_sweep.py, matplotlib).") var plot: String?
    @Flag(help: "End with one JSON object (nanoseconds).") var json = false
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard start > 0, max >= start else { throw ValidationError("--start must be positive and at most --max") }
        guard factor > 1 else { throw ValidationError("--factor must be above 1") }
        guard seconds > 0 && seconds <= 600 else { throw ValidationError("--seconds must be above 0 and at most 600") }
        guard knee > 1 else { throw ValidationError("--knee must be above 1") }
        if let plot, !plot.hasSuffix(".png") { throw ValidationError("--plot writes a .png file") }
    }

    var rates: [Double] {
        var rates: [Double] = []
        var rate = start
        while rate <= max * 1.000_001 {
            rates.append(rate.rounded())
            rate *= factor
        }
        return rates
    }

    func run() throws {
        var options = SweepBench.Options(jitter: placement.options(capture: file), rates: rates)
        options.minSeconds = seconds
        options.kneeFactor = knee
        let header = ["offered/s", "achieved/s", "p50 µs", "p90 µs", "p99 µs", "p99.9 µs", "max µs", "lost", "drops"]
        var rows: [[String]] = []
        let (steps, stop) = try failing {
            try SweepBench(options: options, logger: global.logger("dsi.bench")).run { step in
                let row = Self.row(step)
                rows.append(row)
                // A line per step as it ends (a sweep runs for minutes); the aligned table comes at the end.
                if !json {
                    FileHandleStderr.write(
                        "dsi bench sweep: \(row[0])/s offered, \(row[1])/s achieved, p99 \(row[4]) µs, lost \(row[7])\n")
                }
            }
        }
        if let plot {
            let csv = NSTemporaryDirectory() + "dsi-sweep-\(getpid()).csv"
            defer { try? FileManager.default.removeItem(atPath: csv) }
            let lines =
                ["rate,p50,p90,p99,p999,max"]
                + steps.map { s in
                    let h = s.latency
                    return "\(s.rate),\(h.percentile(50)),\(h.percentile(90)),\(h.percentile(99)),\(h.percentile(99.9)),\(h.max)"
                }
            try failing { try lines.joined(separator: "\n").write(toFile: csv, atomically: true, encoding: .utf8) }
            try PythonTool.run(
                "plot_sweep.py", ["--out", plot, "--title", "dsi bench sweep: \(steps.first?.result.placement ?? "")", csv])
        }
        if json {
            print(Self.json(steps, stop: stop))
        } else {
            FileHandleStderr.write(Table.render(header: header, rows: rows) + "stopped: \(stop)\n")
        }
    }

    static func row(_ step: SweepBench.Step) -> [String] {
        let h = step.latency
        func us(_ ns: UInt64) -> String { String(format: "%.1f", Double(ns) / 1e3) }
        return [
            String(Int(step.rate)), String(Int(step.result.achievedRate)), us(h.percentile(50)), us(h.percentile(90)),
            us(h.percentile(99)), us(h.percentile(99.9)), us(h.max), String(step.result.lostMessages),
            String(step.result.kernelDrops),
        ]
    }

    static func json(_ steps: [SweepBench.Step], stop: String) -> String {
        let items = steps.map { s in
            let h = s.latency
            return
                #"{"offeredRate": \#(Int(s.rate)), "achievedRate": \#(Int(s.result.achievedRate)), "messages": \#(s.result.messages), "ticks": \#(s.result.ticks), "lostMessages": \#(s.result.lostMessages), "kernelDrops": \#(s.result.kernelDrops), "latency": {"p50": \#(h.percentile(50)), "p90": \#(h.percentile(90)), "p99": \#(h.percentile(99)), "p999": \#(h.percentile(99.9)), "max": \#(h.max)}}"#
        }
        let reason = String(decoding: try! JSONEncoder().encode(stop), as: UTF8.self)
        return #"{"steps": [\#(items.joined(separator: ", "))], "stop": \#(reason)}"#
    }
}
