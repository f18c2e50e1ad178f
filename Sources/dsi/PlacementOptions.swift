import ArgumentParser
import DSIRuntime
import DSITools
import Foundation

/// Where the benchmarks' threads run, given on the command line so one command measures a 2-core VM and a 16-core
/// box alike (`dsi bench jitter`, `dsi bench sweep`).
struct PlacementOptions: ParsableArguments {
    @Option(help: "The CPU the replayer runs on (default: not pinned).") var replayCPU: Int?
    @Option(help: "The CPU of the handler's pipeline worker.") var pipelineCPU = 0
    @Option(help: "The CPU of the handler's publisher worker.")
    var publisherCPU = ProcessInfo.processInfo.activeProcessorCount > 1 ? 1 : 0
    @Option(help: "The CPU the subscriber reads on (default: not pinned).") var subscriberCPU: Int?
    @Option(help: "The workers' idle strategy: backoff (shares CPUs), spin or yield (dedicated CPUs).") var idle = "backoff"
    @Option(
        help: """
            Microseconds the replayer spins before each packet is due. Default: 100 with --replay-cpu (a CPU of its \
            own), else 0: it sleeps, leaving shared CPUs to the handler (a spinning replayer on a 2-core machine \
            measured 2.4 ms median latency instead of 62 µs), at the cost of pacing error.
            """)
    var replaySpinUs: Int?

    func validate() throws {
        let cpus = ProcessInfo.processInfo.activeProcessorCount
        for (name, cpu) in [
            ("--replay-cpu", replayCPU), ("--pipeline-cpu", pipelineCPU), ("--publisher-cpu", publisherCPU),
            ("--subscriber-cpu", subscriberCPU),
        ] {
            if let cpu, !(0..<cpus).contains(cpu) {
                throw ValidationError("\(name) \(cpu): this machine has CPUs 0 to \(cpus - 1)")
            }
        }
        if let replaySpinUs, !(0...10_000).contains(replaySpinUs) { throw ValidationError("--replay-spin-us must be 0 to 10000") }
        guard IdleStrategyKind(rawValue: idle) != nil else {
            throw ValidationError("--idle: one of \(IdleStrategyKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func options(capture: String) -> JitterBench.Options {
        var options = JitterBench.Options(capture: capture)
        options.replayCPU = replayCPU
        options.pipelineCPU = pipelineCPU
        options.publisherCPU = publisherCPU
        options.subscriberCPU = subscriberCPU
        options.idle = IdleStrategyKind(rawValue: idle)!
        options.replaySpinNanos = UInt64(replaySpinUs ?? (replayCPU == nil ? 0 : 100)) * 1_000
        return options
    }
}

/// The Python scripts in `tools/` (plots), run with the checkout's `.venv` when it has one.
enum PythonTool {
    static func run(_ script: String, _ arguments: [String]) throws {
        let root = ProcessInfo.processInfo.environment["DSI_ROOT"] ?? FileManager.default.currentDirectoryPath
        let path = root + "/tools/" + script
        guard FileManager.default.fileExists(atPath: path) else {
            throw ValidationError("\(path) is missing: run from the DSI checkout, or set DSI_ROOT to it")
        }
        let venv = root + "/.venv/bin/python"
        let process = Process()
        process.executableURL = URL(
            fileURLWithPath: FileManager.default.isExecutableFile(atPath: venv) ? venv : "/usr/bin/python3")
        process.arguments = [path] + arguments
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ValidationError("\(script) failed (exit \(process.terminationStatus)); its message is above")
        }
    }
}
