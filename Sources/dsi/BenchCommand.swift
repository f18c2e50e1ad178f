import ArgumentParser
import DSIRuntime
import DSITools
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Throughput and latency measurements (release builds; they busy-poll two CPUs).",
        subcommands: [RingBench.self, PipelineBench.self, JitterBenchCommand.self, SweepBenchCommand.self])
}

struct RingBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ring", abstract: "64-byte messages through a 1024-slot SPSC ring: producer on CPU 0, consumer on CPU 1.")

    @Option(help: "Messages for the throughput run.") var messages = 20_000_000
    @Option(help: "Round trips for the latency run (one-way = round trip / 2).") var roundTrips = 200_000
    @Flag(help: "One JSON line.") var json = false

    func run() throws {
        let r = RingBenchmark.run(messages: messages, roundTrips: roundTrips)
        if json {
            print(
                #"{"msgsPerSec": \#(Int(r.msgsPerSec)), "latencyP50Ns": \#(r.latencyP50Ns), "latencyP99Ns": \#(r.latencyP99Ns)}"#)
        } else {
            print(
                "ring: \(String(format: "%.1f", r.msgsPerSec / 1e6)) M msgs/s; one-way latency p50 \(r.latencyP50Ns) ns, p99 \(r.latencyP99Ns) ns (CPUs \(r.producerCPU) → \(r.consumerCPU))"
            )
        }
    }
}

struct PipelineBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline", abstract: "Decode + books + ticks + filters over a capture held in memory, on CPU 0.")

    @Argument(help: "The pcap or pcapng file.") var file: String
    @Option(help: "Passes over the capture (the median is reported).") var runs = 5
    @Option(help: "A handler configuration whose filters apply.") var config: String?
    @Flag(help: "One JSON line.") var json = false

    func run() throws {
        let filter = try failing { try config.map { try HandlerConfig.load(path: $0).filter } ?? .init() }
        let r = try failing { try PipelineBenchmark.run(capture: file, runs: runs, filter: filter) }
        if json {
            print(
                #"{"messages": \#(r.messages), "msgsPerSec": \#(Int(r.msgsPerSec)), "nsPerMsg": \#(String(format: "%.2f", r.nsPerMsg)), "bestNsPerMsg": \#(String(format: "%.2f", r.bestNsPerMsg))}"#
            )
        } else {
            print(
                "pipeline: \(r.messages) messages, \(String(format: "%.1f", r.msgsPerSec / 1e6)) M msgs/s, \(String(format: "%.1f", r.nsPerMsg)) ns/msg (median of \(r.runs), best \(String(format: "%.1f", r.bestNsPerMsg)), CPU \(r.cpu))"
            )
        }
    }
}
