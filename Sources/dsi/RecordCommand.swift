import ArgumentParser
import CDSIShims
import DSICore
import DSITools
import Foundation

struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Join multicast groups and write what arrives for them to a pcap file (libpcap, nanosecond timestamps).",
        discussion: """
            Stops after --count packets, after --duration seconds, or on SIGINT/SIGTERM, whichever comes first; the \
            file is complete in every case. Capturing needs root or CAP_NET_RAW.
            """)

    @Option(help: "A group:port to record; repeat for several lines.") var group: [String] = []
    @Option(help: "The address of the interface to join the groups and capture on.") var interface = "127.0.0.1"
    @Option(help: "Stop after this many packets.") var count: UInt64?
    @Option(help: "Stop after this many seconds.") var duration: Double?
    @Option(help: "The pcap file to write.") var out: String
    @Option(help: "libpcap's capture buffer, MiB: what absorbs a burst while the file is written.") var bufferMb = 128
    @Option(help: "The most bytes kept of each packet (longer ones are cut, and counted).") var snaplen: Int32 = 9_216
    @Flag(help: "No progress line.") var quiet = false

    func validate() throws {
        guard !group.isEmpty else { throw ValidationError("give at least one --group GROUP:PORT") }
        for g in group {
            guard let endpoint = IPv4Endpoint(g) else { throw ValidationError("--group takes group:port, got '\(g)'") }
            guard endpoint.address.isMulticast else {
                throw ValidationError("--group \(g): \(endpoint.address) is not a multicast group (224.0.0.0/4)")
            }
        }
        guard IPv4Address(interface) != nil else {
            throw ValidationError("--interface takes an IPv4 address, got '\(interface)'")
        }
        if let count, count == 0 { throw ValidationError("--count must be at least 1") }
        if let duration, !(duration > 0 && duration <= 31 * 86_400) {
            throw ValidationError("--duration must be above 0 and at most 31 days")
        }
        guard (1...2_047).contains(bufferMb) else { throw ValidationError("--buffer-mb must be 1 to 2047") }
        guard (64...262_144).contains(snaplen) else { throw ValidationError("--snaplen must be 64 to 262144") }
    }

    func run() throws {
        CDSIShims_install_stop_handlers()
        var recorder = Recorder(groups: group.compactMap(IPv4Endpoint.init), interface: IPv4Address(interface)!, path: out)
        recorder.count = count
        recorder.durationNanos = duration.map { UInt64($0 * 1e9) }
        recorder.bufferBytes = Int32(bufferMb) << 20
        recorder.snaplen = snaplen
        let progress = ProgressLine(label: "record", unit: "packets", total: count, style: .automatic(quiet: quiet))
        let report = try failing {
            try recorder.record(progress: progress, shouldStop: { CDSIShims_stop_requested() != 0 }) { device in
                FileHandleStderr.write("dsi record: capturing on \(device) for \(group.joined(separator: ", ")) into \(out)\n")
            }
        }
        let s = report.statistics
        FileHandleStderr.write(
            Table.render(
                title: "dsi record: \(out) (\(report.ended))",
                rows: [
                    ("packets", "\(s.packets)"), ("bytes", "\(s.bytes)"), ("seconds", String(format: "%.3f", report.seconds)),
                    ("dropped by libpcap", "\(s.dropped) (buffer full)"),
                    ("dropped by the interface", "\(s.interfaceDropped)"),
                    ("cut to --snaplen", "\(s.truncated)"),
                    ("timestamps", "nanoseconds, from \(report.timestampSource)"),
                ]))
    }
}
