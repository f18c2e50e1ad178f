import ArgumentParser
import DSICore
import DSIRuntime
import DSITools
import Foundation

struct JitterBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jitter",
        abstract: "Replay a capture into a handler on loopback at a constant rate and time every tick at each stage.",
        discussion: """
            Stages: the kernel's receive stamp → in the publish ring → taken by the publisher → TLS record written → \
            received by a TLS subscriber; and the whole. Percentiles from HdrHistogram, in microseconds. The replay \
            keeps its schedule whatever the handler does, so a slow handler cannot hide its delay. Place the threads \
            with the --*-cpu options; the same command then measures a 2-core VM and a 16-core box.
            """)

    @Argument(help: "The pcap or pcapng file (MoldUDP64, one or two lines).") var file: String
    @Option(help: "Replay at this multiple of the capture's pace.") var speed: Double?
    @Option(help: "Replay at a constant rate, packets per second.") var pps: Double?
    @OptionGroup var placement: PlacementOptions
    @Option(help: "Write the end-to-end distribution as an HdrHistogram .hgrm file (and each stage's beside it).")
    var histogram: String?
    @Option(help: "Draw the percentile curves to a PNG (tools/plot_latency.py, matplotlib).") var plot: String?
    @Flag(help: "End with one JSON object (nanoseconds).") var json = false
    @Flag(help: "No progress line.") var quiet = false
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard speed == nil || pps == nil else { throw ValidationError("choose one of --speed and --pps") }
        if let speed, !(speed > 0) { throw ValidationError("--speed must be positive") }
        if let pps, !(pps > 0) { throw ValidationError("--pps must be positive") }
        if let plot, !plot.hasSuffix(".png") { throw ValidationError("--plot writes a .png file") }
    }

    func run() throws {
        var options = placement.options(capture: file)
        options.pacing = pps.map { .packetsPerSecond($0) } ?? .original(speed: speed ?? 1)
        options.progress = ProgressLine(label: "jitter", unit: "datagrams", style: .automatic(quiet: quiet || json))
        let logger = global.logger("dsi.bench")
        let result = try failing { try JitterBench(options: options, logger: logger).run() }
        if histogram != nil || plot != nil {
            // The plot reads the .hgrm files: without --histogram they are written to a temporary place first.
            let hgrm = histogram ?? NSTemporaryDirectory() + "dsi-jitter-\(getpid()).hgrm"
            defer {
                if histogram == nil {
                    for (name, _) in result.histograms { try? FileManager.default.removeItem(atPath: Self.path(hgrm, name)) }
                }
            }
            for (name, h) in result.histograms {
                try failing {
                    try h.percentileDistribution().write(toFile: Self.path(hgrm, name), atomically: true, encoding: .utf8)
                }
            }
            if let plot { try Self.draw(result, hgrm: hgrm, to: plot) }
        }
        if json {
            print(Self.json(result))
        } else {
            FileHandleStderr.write(Self.table(result))
        }
    }

    /// Where a histogram goes: the end-to-end one at FILE.hgrm itself, a stage's beside it (FILE.receive-ring.hgrm).
    static func path(_ path: String, _ stage: String) -> String {
        guard stage != JitterBench.endToEnd else { return path }
        let slug = stage.replacingOccurrences(of: "→", with: "-")
        let base = path.hasSuffix(".hgrm") ? String(path.dropLast(5)) : path
        return "\(base).\(slug).hgrm"
    }

    static func draw(_ result: JitterBench.Result, hgrm: String, to plot: String) throws {
        var arguments = ["--out", plot, "--title", "dsi bench jitter: \(result.placement)"]
        for (name, _) in result.histograms {
            arguments += ["\(name)=\(path(hgrm, name))"]
        }
        try PythonTool.run("plot_latency.py", arguments)
    }

    static func micros(_ ns: UInt64) -> String { String(format: "%.1f", Double(ns) / 1e3) }

    static func table(_ r: JitterBench.Result) -> String {
        let rows = r.histograms.map { name, h in
            [name] + [50, 90, 99, 99.9, 99.99].map { micros(h.percentile($0)) } + [micros(h.max)]
        }
        return Table.render(
            title: "dsi bench jitter: \(r.messages) messages, \(r.ticks) ticks (\(r.timed) timed at every stage)",
            rows: [
                (
                    "offered",
                    String(
                        format: "%.0f packets/s (achieved %.0f; pacing error p99 %@ µs)", r.offeredRate, r.achievedRate,
                        micros(r.pacingP99))
                ),
                ("lost", "\(r.lostMessages) messages; kernel drops \(r.kernelDrops)"),
                ("threads", r.placement),
            ])
            + Table.render(header: ["stage (µs)", "p50", "p90", "p99", "p99.9", "p99.99", "max"], rows: rows)
    }

    static func json(_ r: JitterBench.Result) -> String {
        func figures(_ h: LatencyHistogram) -> String {
            #"{"p50": \#(h.percentile(50)), "p99": \#(h.percentile(99)), "p999": \#(h.percentile(99.9)), "p9999": \#(h.percentile(99.99)), "max": \#(h.max)}"#
        }
        let stages = r.histograms.filter { $0.0 != JitterBench.endToEnd }.map { #""\#($0.0)": \#(figures($0.1))"# }
        let whole = r.histograms.first { $0.0 == JitterBench.endToEnd }!.1
        return
            #"{"messages": \#(r.messages), "ticks": \#(r.ticks), "timed": \#(r.timed), "offeredRate": \#(Int(r.offeredRate)), "achievedRate": \#(Int(r.achievedRate)), "lostMessages": \#(r.lostMessages), "kernelDrops": \#(r.kernelDrops), "stages": {\#(stages.joined(separator: ", "))}, "latency": \#(figures(whole))}"#
    }
}
