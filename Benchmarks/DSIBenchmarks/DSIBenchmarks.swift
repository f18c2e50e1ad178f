import Benchmark
import DSICore
import DSIFeeds
import DSINet
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

    // Socket to publish ring: real loopback multicast datagrams received with recvmmsg into ingest ring slots, then
    // sequenced, decoded, booked and turned into ticks, as the pipeline worker does. Each iteration sends 256 packets
    // of a generated session and handles them; the allocation count covers the receive path too.
    Benchmark("socket → ring → pipeline, 256 packets (sent before the measurement)", configuration: .init(scalingFactor: .one, maxIterations: 200)) { benchmark in
        let session = try! SessionGenerator.generate(.init(messages: 60_000, seed: 7))
        let port = try! FreePort.udp()
        let group = IPv4Endpoint(address: IPv4Address(0xEFFF_0101), port: port)  // 239.255.1.1
        let receiver = try! MulticastReceiver(.init(group: group, interface: IPv4Address(0x7F00_0001)), line: 0)
        let sender = try! MulticastSender()
        let ingest = SPSCRing(capacity: 4096, slotSize: 2048)
        var processor = FeedProcessor(expectedOrders: 1 << 18)
        var sink = ReleasingRingSink(ring: SPSCRing(capacity: 1 << 12, slotSize: 128))
        var next = 0
        for _ in benchmark.scaledIterations {
            var handled = 0
            let batch = min(256, session.packets.count - next)
            for i in 0..<batch { try! sender.send(session.packets[next + i].payload, to: group) }
            next += batch
            benchmark.startMeasurement()
            while handled < batch {
                _ = try! receiver.receive(into: ingest)
                let ready = ingest.readySlots(limit: 64)
                for i in 0..<ready {
                    let slot = ingest.consumerSlot(i)
                    processor.process(packet: PacketSlot.payload(slot), length: PacketSlot.length(slot),
                                      receiveTime: PacketSlot.receiveTime(slot), sink: &sink)
                }
                ingest.release(ready)
                handled += ready
            }
            benchmark.stopMeasurement()
            if next >= session.packets.count { break }
        }
        blackHole(processor.counters.messages.load)
    }

    // The harness's own cost: start and stop a measurement around nothing. What the other benchmarks report beyond
    // this is theirs.
    Benchmark("empty measurement (harness baseline)", configuration: .init(scalingFactor: .one, maxIterations: 100)) { benchmark in
        for _ in benchmark.scaledIterations {
            benchmark.startMeasurement()
            benchmark.stopMeasurement()
        }
    }

    Benchmark("socket → ring only, 256 packets", configuration: .init(scalingFactor: .one, maxIterations: 50)) { benchmark in
        let session = try! SessionGenerator.generate(.init(messages: 60_000, seed: 7))
        let port = try! FreePort.udp()
        let group = IPv4Endpoint(address: IPv4Address(0xEFFF_0102), port: port)
        let receiver = try! MulticastReceiver(.init(group: group, interface: IPv4Address(0x7F00_0001)), line: 0)
        let sender = try! MulticastSender()
        let ingest = SPSCRing(capacity: 4096, slotSize: 2048)
        for _ in benchmark.scaledIterations {
            for i in 0..<256 { try! sender.send(session.packets[i].payload, to: group) }
            benchmark.startMeasurement()
            var handled = 0
            while handled < 256 {
                let n = try! receiver.receive(into: ingest)
                ingest.release(n)
                handled += n
            }
            benchmark.stopMeasurement()
        }
    }
}
