import DSICore
import DSIPcap
import Foundation

/// Kernel-paced replay (`dsi replay --txtime`): datagrams handed to the kernel ahead of time, each with the CLOCK_TAI
/// time it should leave at (`SO_TXTIME`); an `etf` or `fq` qdisc on the device releases them then, without the
/// sender's wake-up jitter. Only those qdiscs honour the time: any other sends at once, so the device is checked
/// first and a replay that would not be paced is refused, saying how to set one up.
public enum KernelPacing {
    /// The qdiscs that release `SO_TXTIME` datagrams at their time.
    public static let pacingQdiscs: Set<String> = ["etf", "fq"]
    /// How far ahead of its time a datagram is handed over, and how much later than its schedule it is stamped to
    /// leave (etf drops a datagram whose time is closer than its `delta`): a constant shift, which keeps the gaps.
    public static let lookaheadNanos: UInt64 = 1_000_000
    public static let leadNanos: UInt64 = 1_000_000

    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
    }

    /// The device holding `interface`, once its qdiscs are found to pace; throws `Unavailable` in words otherwise.
    public static func check(interface: IPv4Address) throws -> String {
        let device = try PcapCapture.device(holding: interface)
        let kinds = try qdiscs(device: device)
        guard kinds.contains(where: pacingQdiscs.contains) else {
            throw Unavailable(
                description: """
                    --txtime: \(device)'s qdisc is \(kinds.joined(separator: ", ")), which sends at once; kernel pacing \
                    needs etf (or fq) on the device, e.g. `tc qdisc replace dev \(device) root etf clockid CLOCK_TAI \
                    delta 200000` (where tc answers "Specified qdisc kind is unknown", the kernel has no sch_etf). Without it, replay \
                    without --txtime: user-space pacing.
                    """)
        }
        return device
    }

    /// The qdisc kinds on `device`, as `tc -j qdisc show` lists them.
    static func qdiscs(device: String) throws -> [String] {
        let process = Process()
        let out = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["tc", "-j", "qdisc", "show", "dev", device]
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw Unavailable(description: "--txtime: cannot run tc to read \(device)'s qdisc (install iproute2)")
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
            let list = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]]
        else {
            throw Unavailable(description: "--txtime: tc could not list \(device)'s qdiscs (install iproute2)")
        }
        return list.compactMap { $0["kind"] as? String }
    }
}
