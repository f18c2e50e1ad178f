import DSICore
import DSIFeeds
import DSITestSupport
import DSITools
import Foundation
import Testing

/// `dsi bench jitter` end to end on loopback (backoff workers: it never spins in a test): every tick of the replay
/// reaches its subscriber and is timed at every stage; the JSON has the documented shape with ordered percentiles;
/// the .hgrm files hold HdrHistogram's percentile format with one count per timed tick; the plot is a PNG.
@Suite(.serialized) struct JitterBenchTests {
    @Test func timesEveryTickAtEveryStage() throws {
        let dir = try TemporaryDirectory("dsi-jitter")
        defer { dir.remove() }
        var options = SessionGenerator.Options(messages: 10_000, seed: 31)
        options.symbols = 6
        try CaptureFile.write(try SessionGenerator.generate(options), to: dir.file("s.pcap"))
        let expected = try jsonLines(try Commands.run(Commands.dsi, ["ticks", dir.file("s.pcap"), "--format", "jsonl"]).stdout)
            .count
        let run = try Commands.run(
            Commands.dsi,
            [
                "bench", "jitter", dir.file("s.pcap"), "--pps", "4000", "--json", "--histogram", dir.file("j.hgrm"), "--plot",
                dir.file("j.png"), "--log-level", "warning",
            ], timeout: 120, environment: ["DSI_ROOT": Commands.root])
        #expect(run.status == 0, "\(run.stderr)")
        let result = try #require(try jsonLines(run.stdout).last)
        #expect(result["messages"] as? Int == 10_000)
        #expect(result["ticks"] as? Int == expected, "every tick of the capture reached the subscriber")
        let timed = try #require(result["timed"] as? Int)
        #expect(timed == expected, "each timed at every stage")
        #expect(result["lostMessages"] as? Int == 0)
        let offered = try #require(result["offeredRate"] as? Int)
        #expect(abs(offered - 4_000) < 40, "offered at the asked rate: \(offered)")
        let stages = try #require(result["stages"] as? [String: [String: Int]])
        #expect(Set(stages.keys) == Set(JitterBench.stageNames))
        let latency = try #require(result["latency"] as? [String: Int])
        for figures in Array(stages.values) + [latency] {
            let (p50, p99, p999, p9999, max) = (
                figures["p50"] ?? -1, figures["p99"] ?? -1, figures["p999"] ?? -1, figures["p9999"] ?? -1, figures["max"] ?? -1
            )
            #expect(0 <= p50 && p50 <= p99 && p99 <= p999 && p999 <= p9999 && p9999 <= max, "\(figures)")
        }
        // The whole is at least its slowest stage's median and at most the sum of the stages' maxima.
        #expect(latency["max"]! <= stages.values.map { $0["max"]! }.reduce(0, +) + 1_000)
        #expect(latency["p50"]! >= stages.values.map { $0["p50"]! }.max()! - 1_000)

        // HdrHistogram's percentile format: value, percentile, total count, 1/(1-p); a footer with the total count.
        for file in [
            "j.hgrm", "j.receive-ring.hgrm", "j.ring-publisher.hgrm", "j.publisher-written.hgrm", "j.written-subscriber.hgrm",
        ] {
            let text = try String(contentsOfFile: dir.file(file), encoding: .utf8)
            #expect(text.hasPrefix("       Value     Percentile TotalCount 1/(1-Percentile)"), "\(file)")
            #expect(
                text.contains("Total count    = \(String(repeating: " ", count: max(0, 12 - String(timed).count)))\(timed)]"),
                "\(file)")
            let rows = text.split(separator: "\n").filter { $0.split(separator: " ").count == 4 && !$0.hasPrefix("#") }
            #expect(rows.count > 10, "\(file): \(rows.count) rows")
        }
        let png = try FileHandle(forReadingFrom: URL(fileURLWithPath: dir.file("j.png"))).readData(ofLength: 8)
        #expect(Array(png) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "a PNG")
    }

    /// The sweep: one step per rate (start × factor^k up to max), each offered at its rate and lasting about
    /// --seconds (the capture looped), the reason it stopped, and the plot.
    @Test func sweepStepsUpTheRatesAndSaysWhyItStopped() throws {
        let dir = try TemporaryDirectory("dsi-sweep")
        defer { dir.remove() }
        var options = SessionGenerator.Options(messages: 3_000, seed: 32)
        options.symbols = 4
        try CaptureFile.write(try SessionGenerator.generate(options), to: dir.file("s.pcap"))
        let run = try Commands.run(
            Commands.dsi,
            [
                "bench", "sweep", dir.file("s.pcap"), "--start", "2000", "--factor", "2", "--max", "8000", "--seconds", "0.5",
                "--json", "--plot", dir.file("sweep.png"), "--log-level", "warning",
            ], timeout: 180, environment: ["DSI_ROOT": Commands.root])
        #expect(run.status == 0, "\(run.stderr)")
        let result = try #require(try jsonLines(run.stdout).last)
        let steps = try #require(result["steps"] as? [[String: Any]])
        #expect(steps.compactMap { $0["offeredRate"] as? Int } == [2_000, 4_000, 8_000])
        for step in steps {
            let offered = step["offeredRate"] as? Int ?? 0, achieved = step["achievedRate"] as? Int ?? 0
            #expect(abs(achieved - offered) < offered / 20, "\(step)")
            #expect(step["lostMessages"] as? Int == 0 && step["kernelDrops"] as? Int == 0, "\(step)")
            // Looped to last the half second: at least rate × 0.5 datagrams' worth of messages.
            #expect((step["messages"] as? Int ?? 0) >= 3_000, "\(step)")
            let latency = step["latency"] as? [String: Int] ?? [:]
            #expect((latency["p50"] ?? -1) > 0 && (latency["p50"] ?? 0) <= (latency["p99"] ?? 0), "\(step)")
        }
        #expect(result["stop"] as? String == "all rates ran without loss or knee")
        let png = try FileHandle(forReadingFrom: URL(fileURLWithPath: dir.file("sweep.png"))).readData(ofLength: 4)
        #expect(Array(png) == [0x89, 0x50, 0x4E, 0x47])
    }

    @Test func refusesWhatItCannotMeasureInWords() throws {
        let cases: [([String], String)] = [
            (["/nonexistent.pcap"], "/nonexistent.pcap"),
            (["x.pcap", "--pipeline-cpu", "999"], "--pipeline-cpu 999: this machine has CPUs 0 to"),
            (["x.pcap", "--pps", "0"], "--pps must be positive"),
            (["x.pcap", "--speed", "2", "--pps", "10"], "choose one of --speed and --pps"),
            (["x.pcap", "--plot", "x.jpg"], "--plot writes a .png file"),
            (["x.pcap", "--idle", "hurry"], "--idle: one of spin, yield, backoff"),
        ]
        for (arguments, message) in cases {
            let result = try Commands.run(Commands.dsi, ["bench", "jitter"] + arguments, timeout: 30)
            #expect(result.status != 0 && result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
        let sweeps: [([String], String)] = [
            (["x.pcap", "--start", "100", "--max", "10"], "--start must be positive and at most --max"),
            (["x.pcap", "--factor", "1"], "--factor must be above 1"),
            (["x.pcap", "--knee", "0.5"], "--knee must be above 1"),
            (["x.pcap", "--subscriber-cpu", "999"], "--subscriber-cpu 999"),
        ]
        for (arguments, message) in sweeps {
            let result = try Commands.run(Commands.dsi, ["bench", "sweep"] + arguments, timeout: 30)
            #expect(result.status != 0 && result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
    }
}
