import ArgumentParser
import CDSIShims
import DSIClient
import DSICore
import DSINet
import DSIRuntime
import DSITools
import Glibc

struct Subscribe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Connect to a publisher over TLS 1.3, subscribe, and print or count ticks (images first).")

    @Argument(help: "The publisher, host:port.") var endpoint: String
    @OptionGroup var selection: SelectionOptions
    @Option(name: .customLong("from-seq"), help: "Start at this stream sequence (from the publisher's journal).")
    var fromSeq: UInt64?
    @Option(help: "How ticks travel: binary, json or protobuf.") var encoding = "binary"
    @Flag(help: "Do not verify the publisher's certificate.") var insecure = false
    @Option(help: "Trust this CA or self-signed certificate (PEM).") var ca: String?
    @Option(help: "A client certificate (PEM), for a publisher with mutual TLS.") var cert: String?
    @Option(help: "The client certificate's private key (PEM).") var key: String?
    @Option(help: "The name to log in with.") var name = "dsi-subscribe"
    @Option(help: "Exit after this many ticks (images included).") var count: UInt64?
    @Option(help: OutputFormat.help(withNone: true)) var format = OutputFormat.text
    @Option(help: "Give up after this many seconds without data (0: wait for ever).") var idleTimeout = 0.0
    @Flag(help: "Stop at the first lost connection instead of reconnecting and resuming.") var noReconnect = false

    func validate() throws {
        guard endpoint.split(separator: ":").count == 2, UInt16(endpoint.split(separator: ":")[1]) != nil else {
            throw ValidationError("expected host:port, got '\(endpoint)'")
        }
        guard PublishProtocol.Encoding(name: encoding) != nil else {
            throw ValidationError("--encoding is binary, json or protobuf")
        }
        if insecure && ca != nil { throw ValidationError("--insecure and --ca exclude each other") }
        if (cert == nil) != (key == nil) { throw ValidationError("--cert and --key go together") }
        if fromSeq == 0 { throw ValidationError("--from-seq counts from 1") }
    }

    func run() async throws {
        let parts = endpoint.split(separator: ":")
        var connection = TLSSubscriber.Options(host: String(parts[0]), port: UInt16(parts[1])!)
        connection.insecure = insecure
        connection.caFile = ca
        connection.certificate = cert
        connection.key = key
        connection.name = name
        connection.encoding = PublishProtocol.Encoding(name: encoding)!
        var options = DSIClient.Options(connection, selection: try selection.selection())
        options.resumeAfter = fromSeq.map { $0 - 1 }
        options.reconnect = !noReconnect
        if idleTimeout > 0 { options.silenceTimeoutNanos = UInt64(idleTimeout * 1e9) }
        CDSIShims_install_stop_handlers()
        let client = DSIClient(options)
        let format = self.format
        var received: (ticks: UInt64, images: UInt64) = (0, 0)
        var failure: Error? = nil
        let limit = count
        let reading = Task {
            var received: (ticks: UInt64, images: UInt64) = (0, 0)
            for try await tick in client.ticks() {
                switch format {
                case .text: print(TextLines.tick(tick))
                case .jsonl: print(tick.jsonLine)
                case .none: break
                }
                received.ticks += 1
                if tick.flags & Tick.Flags.image != 0 { received.images += 1 }
                if let limit, received.ticks >= limit { break }
            }
            return received
        }
        // Ctrl-C or SIGTERM cancels the reading task (the client stops within its 200 ms read timeout).
        let watching = Task {
            while !Task.isCancelled && CDSIShims_stop_requested() == 0 { try? await Task.sleep(nanoseconds: 50_000_000) }
            reading.cancel()
        }
        do {
            received = try await reading.value
        } catch {
            failure = error
        }
        watching.cancel()
        let s = client.statistics
        FileHandleStderr.write(
            Table.render(
                title: "dsi subscribe:",
                rows: [
                    ("ticks", "\(received.ticks) (\(received.images) images)"),
                    ("TLS", s.tlsVersion.isEmpty ? "no connection" : s.tlsVersion),
                    ("last streamSeq", "\(s.lastStreamSeq)"), ("missed", "\(s.missed)"), ("conflated", "\(s.conflated)"),
                    ("connections", "\(s.connections)"),
                    ("resumed", "\(s.resumed)" + (s.resumeFailures > 0 ? " (\(s.resumeFailures) not possible)" : "")),
                ]))
        if let failure {
            FileHandleStderr.write("dsi subscribe: \(failure)\n")
            throw ExitCode.failure
        }
        if let count, received.ticks < count { throw ExitCode.failure }
    }
}
