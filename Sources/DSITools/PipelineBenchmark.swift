import CDSIShims
import DSICore
import DSIFeeds
import DSIPcap

/// `dsi bench pipeline`: a capture loaded into memory, then timed through decode + books + ticks + filters on one
/// pinned thread, as the pipeline worker runs it (ticks go into a ring that is released at once).
public enum PipelineBenchmark {
    public struct Result: Codable, Sendable {
        public var messages: UInt64
        public var msgsPerSec: Double
        public var nsPerMsg: Double
        /// The fastest pass (a shared machine's noise only ever adds time).
        public var bestNsPerMsg: Double
        public var cpu: Int
        public var runs: Int
    }

    /// - Parameter runs: passes over the capture; the median pass is reported.
    public static func run(capture: String, cpu: Int = 0, runs: Int = 5, filter: TickFilter = TickFilter()) throws -> Result {
        // The datagrams back to back in one buffer, as a capture file holds them: the timed loop walks it with no
        // reference counting per packet.
        var bytes: [UInt8] = []
        var packets: [(time: UInt64, offset: Int, length: Int)] = []
        try PcapReader(path: capture).forEachDatagram {
            packets.append(($0.time, bytes.count, $0.payload.count))
            bytes.append(contentsOf: $0.payload)
        }
        _ = CDSIShims_pin_current_thread(Int32(cpu))
        var times: [UInt64] = []
        var messages: UInt64 = 0
        for _ in 0..<max(1, runs) {
            var processor = FeedProcessor(expectedOrders: 1 << 20, policy: .immediate)
            var sink = FilteringSink(
                inner: ReleasingRingSink(ring: SPSCRing(capacity: 1 << 12, slotSize: MemoryLayout<Tick>.stride)),
                filter: filter)
            let elapsed = bytes.withUnsafeBytes { buffer in
                packets.withUnsafeBufferPointer { list in
                    let base = buffer.baseAddress!
                    let start = Clock.monotonicNanos()
                    for packet in list {
                        processor.process(
                            packet: base + packet.offset, length: packet.length, receiveTime: packet.time, sink: &sink)
                    }
                    return Clock.monotonicNanos() - start
                }
            }
            times.append(elapsed)
            messages = processor.counters.messages.load
        }
        let median = times.sorted()[times.count / 2]
        return Result(
            messages: messages, msgsPerSec: Double(messages) / (Double(median) / 1e9),
            nsPerMsg: Double(median) / Double(max(messages, 1)),
            bestNsPerMsg: Double(times.min()!) / Double(max(messages, 1)), cpu: cpu, runs: times.count)
    }
}

/// Writes each tick into the ring's next slot and frees it at once: the publisher's cost is not what is measured
/// (`dsi bench pipeline` and the benchmark package).
public struct ReleasingRingSink: TickSink {
    let ring: SPSCRing
    var streamSeq: UInt64 = 0
    public init(ring: SPSCRing) { self.ring = ring }
    public mutating func publish(_ tick: Tick) {
        var t = tick
        streamSeq &+= 1
        t.streamSeq = streamSeq
        ring.claim()!.storeBytes(of: t, as: Tick.self)
        ring.commit()
        ring.release()
    }
}
