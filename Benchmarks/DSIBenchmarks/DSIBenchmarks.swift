import Benchmark
import DSICore
import DSIFeeds
import DSINet
import DSIRuntime
import DSITools

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

    // ITCH decode alone: MoldUDP64 framing, sequencing, and every message's common fields and order fields read in
    // place (no books, no ticks): what the decoder costs before the normalizer does anything with it.
    let decodeSession = try! SessionGenerator.generate(.init(messages: 200_000, seed: 42))
    Benchmark("ITCH decode (framing + sequencing + fields), 200000 messages", configuration: .init(scalingFactor: .one)) {
        benchmark in
        for _ in benchmark.scaledIterations {
            var feed = SequencedFeed(consumer: FieldReader(), counters: FeedCounters())
            var sink = CollectingSink()
            benchmark.startMeasurement()
            for packet in decodeSession.packets {
                packet.payload.withUnsafeBytes {
                    feed.process(packet: $0.baseAddress!, length: $0.count, receiveTime: packet.time, sink: &sink)
                }
            }
            benchmark.stopMeasurement()
            blackHole(feed.consumer.checksum)
        }
    }

    // Book updates alone: 64 stocks, 20 prices a side, orders added, partly executed and deleted at random (the
    // operations are drawn before the measurement), straight on `OrderBooks`.
    Benchmark("book update (add / reduce / delete), 100000 operations", configuration: .init(scalingFactor: .one)) { benchmark in
        let operations = BookOperations(count: 100_000, seed: 11)
        for _ in benchmark.scaledIterations {
            var books = OrderBooks(expectedOrders: 1 << 17)
            for locate in UInt16(1)...64 { books.addStock(locate: locate, symbol: Symbol("ZX\(locate)")) }
            var changedTop = 0
            benchmark.startMeasurement()
            for op in operations.list {
                switch op.kind {
                case .add:
                    if books.add(ref: op.ref, locate: op.locate, side: op.side, price: op.price, shares: op.shares).touchedTop {
                        changedTop += 1
                    }
                case .reduce:
                    if books.reduce(ref: op.ref, shares: op.shares)?.touchedTop == true { changedTop += 1 }
                case .delete:
                    if books.delete(ref: op.ref)?.touchedTop == true { changedTop += 1 }
                }
            }
            benchmark.stopMeasurement()
            blackHole(changedTop)
        }
    }

    // The fused pipeline: MoldUDP64 framing, sequence tracking, ITCH decode, books, ticks into a ring, over two
    // session sizes. Allocations that do not grow with the session (the stock directory reserving each book's levels)
    // are start-of-day costs; the per-message count is the difference, which must be 0.
    for messages in [50_000, 200_000] {
        let session = try! SessionGenerator.generate(.init(messages: messages, seed: 42))
        Benchmark("pipeline (decode + books + ticks), \(messages) messages", configuration: .init(scalingFactor: .one)) {
            benchmark in
            for _ in benchmark.scaledIterations {
                var processor = FeedProcessor(expectedOrders: 1 << 18)
                var sink = ReleasingRingSink(ring: SPSCRing(capacity: 1 << 16, slotSize: MemoryLayout<Tick>.stride))
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
    Benchmark(
        "socket → ring → pipeline, 256 packets (sent before the measurement)",
        configuration: .init(scalingFactor: .one, maxIterations: 200)
    ) { benchmark in
        let session = try! SessionGenerator.generate(.init(messages: 60_000, seed: 7))
        let port = try! FreePort.udp()
        let group = IPv4Endpoint(address: IPv4Address(0xEFFF_0101), port: port)  // 239.255.1.1
        let receiver = try! MulticastReceiver(.init(group: group, interface: IPv4Address(0x7F00_0001)), line: 0)
        let sender = try! MulticastSender()
        let ingest = SPSCRing(capacity: 4096, slotSize: 2048)
        var processor = FeedProcessor(expectedOrders: 1 << 18)
        var sink = ReleasingRingSink(ring: SPSCRing(capacity: 1 << 12, slotSize: MemoryLayout<Tick>.stride))
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
                    processor.process(
                        packet: PacketSlot.payload(slot), length: PacketSlot.length(slot),
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
    Benchmark("empty measurement (harness baseline)", configuration: .init(scalingFactor: .one, maxIterations: 100)) {
        benchmark in
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

/// A consumer that reads each message's header fields and, for order messages, the reference, shares and price, in
/// place: the decode cost without books.
struct FieldReader: MessageConsumer {
    var checksum: UInt64 = 0

    mutating func handle<Sink: TickSink>(_ p: UnsafeRawPointer, length: Int, seq: UInt64, receiveTime: UInt64, sink: inout Sink) {
        guard length >= ITCHOffsets.body else { return }
        checksum &+=
            UInt64(p.byte(at: 0)) &+ UInt64(p.bigEndianU16(at: ITCHOffsets.stockLocate))
            &+ p.bigEndianU48(at: ITCHOffsets.timestamp)
        switch p.byte(at: 0) {
        case UInt8(ascii: "A"), UInt8(ascii: "F"):
            guard length >= 36 else { return }
            checksum &+=
                p.bigEndianU64(at: ITCHOffsets.AddOrder.orderRef) &+ UInt64(p.bigEndianU32(at: ITCHOffsets.AddOrder.shares))
                &+ UInt64(p.bigEndianU32(at: ITCHOffsets.AddOrder.price))
        case UInt8(ascii: "E"), UInt8(ascii: "C"), UInt8(ascii: "X"), UInt8(ascii: "D"), UInt8(ascii: "U"):
            guard length >= 19 else { return }
            checksum &+= p.bigEndianU64(at: ITCHOffsets.OrderDelete.orderRef)
        default:
            break
        }
    }

    mutating func sessionBegins(_ name: String, isFirst: Bool) {}
}

/// A reproducible list of book operations on live orders: adds, partial or whole reductions, deletes.
struct BookOperations {
    enum Kind { case add, reduce, delete }
    struct Operation {
        var kind: Kind; var ref: UInt64; var locate: UInt16; var side: UInt8; var price: UInt32; var shares: UInt32
    }
    let list: [Operation]

    init(count: Int, seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var live: [UInt64] = [], nextRef: UInt64 = 1
        var list: [Operation] = []
        list.reserveCapacity(count)
        while list.count < count {
            let roll = random.next() % 10
            if roll < 5 || live.isEmpty {
                let locate = UInt16(1 + random.next() % 64)
                let side: UInt8 = random.next() & 1 == 0 ? UInt8(ascii: "B") : UInt8(ascii: "S")
                let away = UInt32(100 * (1 + random.next() % 20))
                let price = side == UInt8(ascii: "B") ? 1_000_000 - away : 1_000_000 + away
                list.append(
                    .init(
                        kind: .add, ref: nextRef, locate: locate, side: side, price: price,
                        shares: UInt32(100 + random.next() % 900)))
                live.append(nextRef)
                nextRef += 1
            } else {
                let at = Int(random.next() % UInt64(live.count))
                let ref = live[at]
                live.swapAt(at, live.count - 1)
                live.removeLast()
                // A reduction of 1000 or more takes the whole order (shares are 100 to 999): either way it leaves.
                list.append(.init(kind: roll < 7 ? .reduce : .delete, ref: ref, locate: 0, side: 0, price: 0, shares: 1000))
            }
        }
        self.list = list
    }
}
