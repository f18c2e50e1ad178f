import Benchmark
import DSICore
import DSIFeeds
import DSIRuntime

/// Hot-path benchmarks. Each runs a fixed batch per iteration and reports malloc counts: the hot path must not
/// allocate, so `mallocCountTotal` must stay 0 per iteration once warmed up.
let benchmarks: @Sendable () -> Void = {
    let metrics: [BenchmarkMetric] = [.wallClock, .throughput, .mallocCountTotal, .instructions]
    Benchmark.defaultConfiguration = .init(metrics: metrics, warmupIterations: 3, maxDuration: .seconds(2), maxIterations: 1000)

    // Ring: 1024 messages of 64 bytes through a 1024-slot ring, single thread (push then pop: the API's cost).
    Benchmark("ring push+pop (1024 × 64 B)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        let ring = SPSCRing(capacity: 1024, slotSize: 64)
        var sum: UInt64 = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let slot = ring.claim()!
            slot.storeBytes(of: UInt64(1), as: UInt64.self)
            ring.commit()
            sum &+= ring.peek()!.load(as: UInt64.self)
            ring.release()
        }
        blackHole(sum)
    }

    // The fused pipeline: MoldUDP64 framing, sequence tracking, ITCH decode, books, ticks into a ring, over two
    // session sizes. Allocations that do not grow with the session (the stock directory reserving each book's levels)
    // are start-of-day costs; the per-message count is the difference, which must be 0.
    for messages in [50_000, 200_000] {
        let session = try! SessionGenerator.generate(.init(messages: messages, seed: 42))
        Benchmark("pipeline (decode + books + ticks), \(messages) messages", configuration: .init(scalingFactor: .one)) { benchmark in
            for _ in benchmark.scaledIterations {
                var processor = FeedProcessor(expectedOrders: 1 << 18)
                var sink = ReleasingRingSink(ring: SPSCRing(capacity: 1 << 16, slotSize: 128))
                benchmark.startMeasurement()
                for packet in session.packets {
                    packet.payload.withUnsafeBytes {
                        processor.process(packet: $0.baseAddress!, length: $0.count, receiveTime: packet.time, sink: &sink)
                    }
                }
                benchmark.stopMeasurement()
                blackHole(processor.counters.messages.load)
            }
        }
    }
}
