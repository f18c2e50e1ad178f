import ArgumentParser
import CDSIShims
import DSICore
import DSINet
import DSIRuntime
import Glibc

struct Subscribe: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Connect to a publisher over TLS 1.3 and print or count ticks.")

    @Argument(help: "The publisher, host:port.") var endpoint: String
    @Flag(help: "Do not verify the publisher's certificate.") var insecure = false
    @Option(help: "Trust this CA or self-signed certificate (PEM).") var ca: String?
    @Option(help: "Exit after this many ticks.") var count: UInt64?
    @Option(help: "Output: jsonl (one JSON object per tick) or none (count only).") var format = "jsonl"
    @Option(help: "Give up after this many seconds without data (0: wait for ever).") var idleTimeout = 0.0

    func validate() throws {
        guard endpoint.split(separator: ":").count == 2, UInt16(endpoint.split(separator: ":")[1]) != nil else {
            throw ValidationError("expected host:port, got '\(endpoint)'")
        }
        guard ["jsonl", "none"].contains(format) else { throw ValidationError("--format is jsonl or none") }
        if insecure && ca != nil { throw ValidationError("--insecure and --ca exclude each other") }
    }

    func run() throws {
        let parts = endpoint.split(separator: ":")
        var options = TLSSubscriber.Options(host: String(parts[0]), port: UInt16(parts[1])!)
        options.insecure = insecure
        options.caFile = ca
        options.idleTimeoutNanos = idleTimeout > 0 ? UInt64(idleTimeout * 1e9) : nil
        CDSIShims_install_stop_handlers()
        let subscriber = try failing { try TLSSubscriber(options) }
        let printTicks = format == "jsonl"
        let end = try failing {
            try subscriber.run(limit: count, shouldStop: { CDSIShims_stop_requested() != 0 }) { tick in
                if printTicks { print(tick.jsonLine) }
            }
        }
        FileHandleStderr.write("dsi subscribe: \(subscriber.ticksReceived) ticks over \(subscriber.tlsVersion) (\(end))\n")
        if case .goodbye = end { throw ExitCode.failure }
        if let count, subscriber.ticksReceived < count { throw ExitCode.failure }
    }
}
