// The publisher's fan-out: ticks per second delivered to N subscribers over TLS 1.3 on loopback, and the time the
// publisher adds to a tick (from entering its ring to being written to every subscriber's socket), as HdrHistogram
// percentiles. The publisher runs on this thread, pinned to CPU 1; subscriber reader threads are not pinned.
//
//   swift run -c release FanOut [SUBSCRIBERS...]          (default: 1 10 100)
import CDSIShims
import DSICore
import DSINet
import Foundation
import Histogram
import Logging
import Synchronization

let ticksPerRun = 200_000
let batch = 256
let subscriberCounts =
    CommandLine.arguments.dropFirst().compactMap { Int($0) }.isEmpty
    ? [1, 10, 100] : CommandLine.arguments.dropFirst().compactMap { Int($0) }

final class Reader: @unchecked Sendable {
    let received = Atomic<Int>(0)
}

func run(subscribers: Int) throws -> String {
    let dir = NSTemporaryDirectory() + "dsi-fanout-\(getpid())"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try SelfSignedCertificate.generate(certificate: dir + "/c.pem", key: dir + "/k.pem")
    var options = TLSPublisher.Options(listen: IPv4Endpoint("127.0.0.1:0")!, certificate: dir + "/c.pem", key: dir + "/k.pem")
    options.maxQueuedBytes = 64 << 20
    options.batch = batch
    options.limits.maxConnections = 4_096
    options.limits.maxPerAddress = 4_096
    var logger = Logger(label: "fanout")
    logger.logLevel = .error
    let publisher = try TLSPublisher(options, logger: logger)
    let ring = SPSCRing(capacity: 1 << 16, slotSize: MemoryLayout<Tick>.stride)
    var readers: [Reader] = []
    var threads: [Thread] = []
    var sessions: [TLSSubscriber] = []
    // Connect each subscriber while polling the loop (the handshake and login need the publisher).
    for _ in 0..<subscribers {
        var options = TLSSubscriber.Options(host: "127.0.0.1", port: publisher.port)
        options.insecure = true
        let o = options
        let box = Mutex<TLSSubscriber?>(nil)
        let t = Thread {
            if let s = try? TLSSubscriber(o) {
                _ = try? s.subscribe(.all)
                box.withLock { $0 = s }
            }
        }
        t.start()
        while box.withLock({ $0 == nil }) { _ = publisher.poll(ring: ring) }
        sessions.append(box.withLock { $0! })
    }
    for s in sessions {
        let reader = Reader()
        readers.append(reader)
        let t = Thread {
            var n = 0
            while n < ticksPerRun {
                _ = try? s.nextFrame { _ in n += 1 }
                reader.received.store(n, ordering: .relaxed)
            }
        }
        threads.append(t)
        t.start()
    }
    _ = CDSIShims_pin_current_thread(1)
    var histogram = Histogram<UInt64>(highestTrackableValue: 10_000_000_000, numberOfSignificantValueDigits: .three)
    var stamps = [UInt64](repeating: 0, count: batch)
    let start = Clock.monotonicNanos()
    var sent = 0
    while sent < ticksPerRun {
        // Offer at most 20 000 ticks beyond the slowest subscriber: a bounded backlog, as a live feed would keep.
        let slowest = readers.map { $0.received.load(ordering: .relaxed) }.min() ?? sent
        if sent - slowest > 20_000 {
            _ = publisher.poll(ring: ring)
            continue
        }
        let n = min(batch, ticksPerRun - sent)
        for i in 0..<n {
            var t = Tick(kind: .quote)
            t.stock = Symbol("S\((sent + i) % 500)")
            t.stockLocate = UInt16(1 + (sent + i) % 500)
            t.bidPrice = UInt32(sent + i)
            let slot = ring.claim()!
            stamps[i] = Clock.monotonicNanos()
            slot.storeBytes(of: t, as: Tick.self)
            ring.commit()
        }
        _ = publisher.poll(ring: ring)
        let done = Clock.monotonicNanos()
        for i in 0..<n { histogram.record(done - stamps[i]) }
        sent += n
    }
    while readers.contains(where: { $0.received.load(ordering: .relaxed) < ticksPerRun }) { _ = publisher.poll(ring: ring) }
    let elapsed = Double(Clock.monotonicNanos() - start) / 1e9
    publisher.finish(ring: ring)
    let perSubscriber = Double(ticksPerRun) / elapsed
    func us(_ p: Double) -> String { String(format: "%.1f", Double(histogram.valueAtPercentile(p)) / 1000) }
    return String(
        format: "| %d | %.0f | %.0f | %@ | %@ | %@ | %@ |", subscribers, perSubscriber, perSubscriber * Double(subscribers),
        us(50), us(99), us(99.9), String(format: "%.1f", Double(histogram.max) / 1000))
}

print("| subscribers | ticks/s each | ticks/s delivered | added latency p50 µs | p99 µs | p99.9 µs | max µs |")
print("|---|---|---|---|---|---|---|")
for n in subscriberCounts { print(try run(subscribers: n)) }
