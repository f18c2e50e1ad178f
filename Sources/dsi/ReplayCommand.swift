import ArgumentParser
import DSICore
import DSINet
import DSIPcap
import DSIRuntime
import DSITools
import Foundation
import Glibc

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send a capture's UDP payloads to multicast on loopback (TTL 0), paced by its timestamps unless told otherwise."
    )

    @Argument(help: "The pcap or pcapng file.") var file: String
    @Option(
        name: .customLong("to"), help: "Destination group:port; repeat for several lines. Default: each packet's own destination."
    )
    var destinations: [String] = []
    @Option(help: "Replay speed as a multiple of the capture's pacing.") var speed: Double?
    @Option(help: "Fixed rate in packets per second.") var pps: Double?
    @Flag(help: "No pacing: as fast as possible.") var topspeed = false
    @Option(help: "Interface address to send from.") var interface = "127.0.0.1"
    @Option(help: "Multicast TTL (0 keeps packets on this host).") var ttl: UInt8 = 0
    @Option(help: "Drop each datagram to each destination with this probability (tests arbitration and recovery).") var drop = 0.0
    @Option(help: "Seed for --drop.") var dropSeed: UInt64 = 1
    @Option(help: "Serve MoldUDP64 re-requests for the capture's messages on this UDP port (127.0.0.1).") var recoveryPort:
        UInt16?
    @Option(help: "With --recovery-port: keep serving this many seconds after the last packet.") var linger = 2.0
    @Option(help: "With --recovery-port: requests per second the server answers; more are refused, as a real server would.")
    var recoveryRate = 20_000.0
    @Option(help: "Skip MoldUDP64 packets that start before this sequence (a handler joining late sees the rest).")
    var fromSequence: UInt64?
    @Option(help: "Shorten gaps in the capture longer than this many seconds to it (a clock jump must not stall the replay).")
    var maxGap = Double(ReplayPacer.defaultMaxGapNanos) / 1e9
    @Flag(help: "Keep every gap in the capture, however long.") var keepGaps = false
    @Option(
        help: """
            Play the capture this many times; each pass follows on in time and in MoldUDP64 sequence (the ITCH \
            contents repeat).
            """)
    var loop = 1
    @Option(help: "Stop after this many datagrams (over all passes).") var limit: Int?
    @Flag(help: "No progress line.") var quiet = false
    @Flag(
        help: """
            Kernel pacing: hand each datagram over ahead with its time to leave (SO_TXTIME) for an etf or fq qdisc on \
            the device to release; refused, in words, where the device has neither.
            """)
    var txtime = false

    func validate() throws {
        guard [speed != nil, pps != nil, topspeed].filter({ $0 }).count <= 1 else {
            throw ValidationError("choose one of --speed, --pps and --topspeed")
        }
        if let speed, speed <= 0 { throw ValidationError("--speed must be positive") }
        if let pps, pps <= 0 { throw ValidationError("--pps must be positive") }
        guard recoveryRate >= 1 else { throw ValidationError("--recovery-rate must be at least 1") }
        guard maxGap > 0 && maxGap <= 86_400 else { throw ValidationError("--max-gap must be above 0 and at most 86400 seconds") }
        if let fromSequence, fromSequence == 0 { throw ValidationError("--from-sequence starts at 1") }
        for d in destinations where IPv4Endpoint(d) == nil { throw ValidationError("--to takes group:port, got '\(d)'") }
        guard drop >= 0 && drop < 1 else { throw ValidationError("--drop must be at least 0 and below 1") }
        if txtime && topspeed { throw ValidationError("--txtime paces by a schedule: not with --topspeed") }
        guard (1...1_000_000).contains(loop) else { throw ValidationError("--loop must be 1 to 1000000") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if loop > 1 && recoveryPort != nil {
            throw ValidationError("--loop with --recovery-port: the server holds one pass's messages, not the renumbered ones")
        }
        guard IPv4Address(interface) != nil else {
            throw ValidationError("--interface takes an IPv4 address, got '\(interface)'")
        }
    }

    func run() throws {
        let mode: ReplayPacer.Mode = topspeed ? .topSpeed : pps.map { .packetsPerSecond($0) } ?? .original(speed: speed ?? 1)
        var replayer = Replayer(
            destinations: destinations.compactMap(IPv4Endpoint.init), pacing: mode,
            interface: IPv4Address(interface)!, ttl: ttl)
        replayer.dropProbability = drop
        replayer.dropSeed = dropSeed
        replayer.fromSequence = fromSequence
        replayer.maxGapNanos = keepGaps ? nil : UInt64(maxGap * 1e9)
        replayer.loops = loop
        if txtime {
            let device = try failing { try KernelPacing.check(interface: IPv4Address(interface)!) }
            FileHandleStderr.write("dsi replay: kernel pacing on \(device) (SO_TXTIME)\n")
            replayer.kernelPacing = true
        }
        replayer.limit = limit
        replayer.progress = ProgressLine(label: "replay", unit: "datagrams", style: .automatic(quiet: quiet))
        var server: RecoveryServer? = nil
        let served = DispatchSemaphore(value: 0)
        let stop = StopFlag()
        if let recoveryPort {
            let store = try failing { try RecoveryServer.Store.load(capture: file) }
            let s = try failing {
                try RecoveryServer(listen: IPv4Endpoint(address: IPv4Address(0x7F00_0001), port: recoveryPort), store: store)
            }
            s.maxRequestsPerSecond = recoveryRate
            server = s
            FileHandleStderr.write("dsi replay: serving re-requests for \(store.count) messages on 127.0.0.1:\(s.port)\n")
            // A thread of its own: serve() blocks in recvfrom, which a Dispatch pool thread must not.
            Thread {
                s.serve { stop.isSet }; served.signal()
            }.start()
        }
        let report = try failing { try replayer.replay(path: file) }
        if let server {
            Thread.sleep(forTimeInterval: linger)
            stop.set()
            served.wait()
            FileHandleStderr.write(
                """
                dsi replay: answered \(server.requests.load) re-requests with \(server.messagesSent.load) messages; \
                refused \(server.rateLimited.load) over the rate limit and \(server.refused.load) malformed or of another session\n
                """)
        }
        if report.clampedGaps > 0 {
            FileHandleStderr.write(
                """
                dsi replay: warning: \(report.clampedGaps) gaps in the capture longer than \(maxGap) s were shortened to it \
                (the longest: \(String(format: "%.3f", Double(report.longestClampedGap) / 1e9)) s); --keep-gaps keeps them\n
                """)
        }
        FileHandleStderr.write("dsi replay: \(report.captureSummary)\n")
        if let fromSequence {
            FileHandleStderr.write(
                "dsi replay: \(report.skippedBeforeStart) datagrams starting before sequence \(fromSequence) not sent\n")
        }
        FileHandleStderr.write(Self.summary(report, mode: mode))
    }

    /// The table a person reads at the end: what was sent, how fast, and how far from its due time each packet left.
    static func summary(_ report: Replayer.Report, mode: ReplayPacer.Mode) -> String {
        func micros(_ ns: UInt64) -> String { String(format: "%.1f µs", Double(ns) / 1e3) }
        var rows: [(String, String)] = [
            ("datagrams", "\(report.datagrams) (\(report.messages) MoldUDP64 messages)"),
            ("passes", "\(report.passes)" + (report.limitReached ? " (stopped at --limit)" : "")),
            ("seconds", String(format: "%.3f", report.seconds)),
            ("rate", String(format: "%.0f datagrams/s", report.rate)),
        ]
        if report.txTimeMisses > 0 || mode != .topSpeed && report.lateness.count == 0 && report.intendedNanos > 0 {
            rows.append(("kernel pacing", "\(report.txTimeMisses) datagrams missed their time (dropped by the qdisc)"))
        }
        if mode != .topSpeed && report.intendedNanos > 0 && report.lateness.count > 0 {
            let intended = Double(report.intendedNanos) / 1e9
            rows.append(
                (
                    "paced duration",
                    String(format: "%.3f s intended, %+.2f%%", intended, 100 * (report.seconds - intended) / intended)
                ))
            let l = report.lateness
            rows.append(
                (
                    "pacing error",
                    "p50 \(micros(l.p50)), p90 \(micros(report.latenessP90)), p99 \(micros(l.p99)), "
                        + "p99.9 \(micros(l.p999)), max \(micros(l.max))"
                ))
        }
        rows.append(("frames skipped", "\(report.skipped)"))
        if report.dropped > 0 {
            rows.append(("copies dropped", "\(report.dropped) (\(report.droppedEverywhere) on every line)"))
        }
        return Table.render(title: "dsi replay:", rows: rows)
    }
}
