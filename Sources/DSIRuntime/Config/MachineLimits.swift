import CDSIShims
import DSICore
import DSIFeeds
import DSINet
import Foundation
import Glibc

/// What this machine can give a configuration: memory for the order table, rings and holding store, and receive
/// buffers. Checked before anything starts, so that a number the machine cannot honour is refused with the key and
/// the figures, not met later as an out-of-memory kill or a buffer quietly smaller than asked.
public enum MachineLimits {
    /// Bytes the handler will allocate up front for `config`, by what takes them, largest first.
    public static func memory(for config: ValidatedConfig) -> [(key: String, bytes: Int)] {
        var needs: [(key: String, bytes: Int)] = []
        for (f, feed) in config.feeds.enumerated() {
            needs += [
                ("feeds[\(f)].maxOrders", Normalizer.bytes(forExpectedOrders: feed.maxOrders)),
                ("feeds[\(f)].holdBytes", feed.recovery.holdBytes),
                (
                    "(feeds[\(f)] ingest ring)",
                    SPSCRing.bytes(capacity: FeedHandler.ingestSlots, slotSize: FeedHandler.ingestSlotSize)
                ),
            ]
        }
        needs.append(
            (
                "publisher.ringSlots",
                SPSCRing.bytes(capacity: config.ringSlots, slotSize: MemoryLayout<Tick>.stride) * config.publishRingCount
            ))
        return needs.sorted { $0.bytes > $1.bytes }
    }

    /// Memory the kernel reports available now (`MemAvailable`), bytes; nil when it cannot be read.
    public static var availableMemory: Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }),
            let kib = Int(line.split(separator: " ").dropFirst().first ?? "")
        else { return nil }
        return kib * 1024
    }

    /// Refuses a configuration this machine cannot honour: more memory than is available (`available` defaults to
    /// what the kernel reports), a receive buffer the kernel will not grant this process (asked for on a socket, as
    /// a line asks: no guess at what `net.core.rmem_max` and the process's capabilities allow).
    public static func check(_ config: ValidatedConfig, available: Int? = availableMemory) throws {
        let needs = memory(for: config)
        let total = needs.reduce(0) { $0 + $1.bytes }
        if let available, total > available / 10 * 9 {
            let biggest = needs[0]
            throw ConfigError(
                file: config.file, key: biggest.key,
                problem: """
                    the handler would allocate \(gib(total)) up front (\(gib(biggest.bytes)) of it for this), but this machine \
                    has \(gib(available)) available; lower it
                    """)
        }
        for (f, feed) in config.feeds.enumerated() {
            do {
                try MulticastReceiver.checkReceiveBuffer(feed.receiveBuffer)
            } catch let error as ReceiveBufferTooSmall {
                throw refusal(error, file: config.file, feed: f)
            }
        }
    }

    /// A line socket's receive buffer came out smaller than asked: said against the key that asks.
    static func refusal(_ error: ReceiveBufferTooSmall, file: String, feed: Int) -> ConfigError {
        ConfigError(file: file, key: "feeds[\(feed)].receiveBuffer", problem: "\(error)")
    }

    static func gib(_ bytes: Int) -> String {
        bytes >= 1 << 30
            ? String(format: "%.1f GiB", Double(bytes) / Double(1 << 30))
            : String(format: "%.0f MiB", Double(bytes) / Double(1 << 20))
    }
}
