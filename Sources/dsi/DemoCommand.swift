import ArgumentParser
import DSIRuntime
import DSITools
import Foundation

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Everything on loopback in one process: generate, replay to lines A and B, handle, publish over TLS 1.3, subscribe, summarise."
    )

    @Option(help: "ITCH messages in the synthetic session.") var messages = 50_000
    @Option(help: "Generator seed.") var seed: UInt64 = 1
    @Option(help: "Replay speed, a multiple of the capture's own pacing.") var speed = 1.0
    @Flag(help: "End with one JSON object summarising the run.") var json = false
    @Option(help: "The handler's idle strategy: backoff (default), yield, or spin (busy-polls two cores).") var idle = "backoff"
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard messages >= 8 else { throw ValidationError("--messages must be at least 8") }
        guard speed > 0 else { throw ValidationError("--speed must be positive") }
        guard IdleStrategyKind(rawValue: idle) != nil else { throw ValidationError("--idle is spin, yield or backoff") }
    }

    func run() throws {
        let logger = global.logger("dsi.demo")
        var options = DSITools.Demo.Options()
        options.messages = messages
        options.seed = seed
        options.speed = speed
        options.idle = IdleStrategyKind(rawValue: idle)!
        let summary = try failing { try DSITools.Demo(options: options, logger: logger).run() }
        print(
            """
            DSI demo: \(summary.messagesSent) ITCH messages replayed to lines A and B on loopback multicast
              handler:    \(summary.messagesReceived) messages received, \(summary.duplicatesDropped) duplicates dropped by A/B arbitration, \(summary.gaps) gaps (\(summary.lostMessages) lost), \(summary.kernelDrops) kernel drops
              publisher:  \(summary.ticksPublished) ticks published over \(summary.tls)
              subscriber: \(summary.ticksDelivered) ticks delivered, \(summary.streamGaps) stream gaps
              latency (kernel receive → subscriber): p50 \(Self.micros(summary.latency.p50)), p99 \(Self.micros(summary.latency.p99)), max \(Self.micros(summary.latency.max))
              took \(String(format: "%.2f", summary.seconds)) s
            """)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(summary), as: UTF8.self))
        }
        if summary.messagesReceived != UInt64(summary.messagesSent) || summary.ticksDelivered != summary.ticksPublished {
            FileHandleStderr.write("dsi: error: the demo lost data (see the summary above)\n")
            throw ExitCode.failure
        }
    }

    static func micros(_ nanos: UInt64) -> String { String(format: "%.1f µs", Double(nanos) / 1000) }
}
