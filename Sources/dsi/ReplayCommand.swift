import Glibc
import ArgumentParser
import DSICore
import DSIPcap
import DSIRuntime

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send a capture's UDP payloads to multicast on loopback (TTL 0), paced by its timestamps unless told otherwise.")

    @Argument(help: "The pcap or pcapng file.") var file: String
    @Option(name: .customLong("to"), help: "Destination group:port; repeat for several lines. Default: each packet's own destination.")
    var destinations: [String] = []
    @Option(help: "Replay speed as a multiple of the capture's pacing.") var speed: Double?
    @Option(help: "Fixed rate in packets per second.") var pps: Double?
    @Flag(help: "No pacing: as fast as possible.") var topspeed = false
    @Option(help: "Interface address to send from.") var interface = "127.0.0.1"
    @Option(help: "Multicast TTL (0 keeps packets on this host).") var ttl: UInt8 = 0

    func validate() throws {
        guard [speed != nil, pps != nil, topspeed].filter({ $0 }).count <= 1 else {
            throw ValidationError("choose one of --speed, --pps and --topspeed")
        }
        if let speed, speed <= 0 { throw ValidationError("--speed must be positive") }
        if let pps, pps <= 0 { throw ValidationError("--pps must be positive") }
        for d in destinations where IPv4Endpoint(d) == nil { throw ValidationError("--to takes group:port, got '\(d)'") }
        guard IPv4Address(interface) != nil else { throw ValidationError("--interface takes an IPv4 address, got '\(interface)'") }
    }

    func run() throws {
        let mode: ReplayPacer.Mode = topspeed ? .topSpeed : pps.map { .packetsPerSecond($0) } ?? .original(speed: speed ?? 1)
        let replayer = Replayer(destinations: destinations.compactMap(IPv4Endpoint.init), pacing: mode,
                                interface: IPv4Address(interface)!, ttl: ttl)
        let report = try failing { try replayer.replay(path: file) }
        FileHandleStderr.write("""
            dsi replay: \(report.datagrams) datagrams (\(report.messages) MoldUDP64 messages) in \
            \(String(format: "%.3f", report.seconds)) s; \(report.skipped) frames skipped; \
            lateness p50 \(report.lateness.p50) ns, p99 \(report.lateness.p99) ns, max \(report.lateness.max) ns\n
            """)
    }
}
