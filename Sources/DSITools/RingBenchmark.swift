import CDSIShims
import DSICore
import Foundation

/// `dsi bench ring`: a producer and a consumer pinned to two CPUs, 64-byte messages through a 1024-slot ring.
/// Throughput: the producer streams `messages` messages, the consumer checks each. Latency: ping-pong over two rings
/// (`roundTrips` times), one-way = round trip / 2. Both sides busy-poll (a benchmark, never a test).
public enum RingBenchmark {
    public struct Result: Codable, Sendable {
        public var msgsPerSec: Double
        public var latencyP50Ns: UInt64
        public var latencyP99Ns: UInt64
        public var producerCPU: Int
        public var consumerCPU: Int
    }

    static let slots = 1024
    static let messageSize = 64

    public static func run(messages: Int, roundTrips: Int, producerCPU: Int = 0, consumerCPU: Int = 1) -> Result {
        let throughput = stream(messages: messages, producerCPU: producerCPU, consumerCPU: consumerCPU)
        let (p50, p99) = pingPong(roundTrips: roundTrips, producerCPU: producerCPU, consumerCPU: consumerCPU)
        return Result(
            msgsPerSec: throughput, latencyP50Ns: p50, latencyP99Ns: p99, producerCPU: producerCPU, consumerCPU: consumerCPU)
    }

    /// Messages per second, producer to consumer.
    public static func stream(messages: Int, producerCPU: Int, consumerCPU: Int) -> Double {
        let ring = SPSCRing(capacity: slots, slotSize: messageSize)
        let ready = DispatchSemaphore(value: 0)
        let consumer = Thread {
            _ = CDSIShims_pin_current_thread(Int32(consumerCPU))
            ready.signal()
            var expected: UInt64 = 0
            while expected < UInt64(messages) {
                let n = ring.readySlots(limit: 32)
                if n == 0 { CDSIShims_cpu_pause(); continue }
                for i in 0..<n {
                    // Read the whole message in place: the first word is the sequence, checked.
                    let slot = ring.consumerSlot(i)
                    precondition(slot.load(as: UInt64.self) == expected &+ UInt64(i), "ring reordered a message")
                }
                expected &+= UInt64(n)
                ring.release(n)
            }
            ready.signal()
        }
        consumer.start()
        ready.wait()
        _ = CDSIShims_pin_current_thread(Int32(producerCPU))
        let start = Clock.monotonicNanos()
        var sent: UInt64 = 0
        while sent < UInt64(messages) {
            let n = ring.freeSlots(limit: min(32, messages - Int(sent)))
            if n == 0 { CDSIShims_cpu_pause(); continue }
            for i in 0..<n {
                let slot = ring.producerSlot(i)
                slot.storeBytes(of: sent &+ UInt64(i), as: UInt64.self)
                for word in 1..<(messageSize / 8) { slot.storeBytes(of: sent, toByteOffset: word * 8, as: UInt64.self) }
            }
            ring.commit(n)
            sent &+= UInt64(n)
        }
        ready.wait()
        let elapsed = Clock.monotonicNanos() - start
        return Double(messages) / (Double(elapsed) / 1e9)
    }

    /// p50 and p99 of one-way latency (ns): round trips through two rings, halved.
    public static func pingPong(roundTrips: Int, producerCPU: Int, consumerCPU: Int) -> (UInt64, UInt64) {
        let there = SPSCRing(capacity: slots, slotSize: messageSize)
        let back = SPSCRing(capacity: slots, slotSize: messageSize)
        let total = roundTrips + 1000  // the first thousand warm up caches and are not recorded
        let echo = Thread {
            _ = CDSIShims_pin_current_thread(Int32(consumerCPU))
            for _ in 0..<total {
                var slot = there.peek()
                while slot == nil { CDSIShims_cpu_pause(); slot = there.peek() }
                let value = slot!.load(as: UInt64.self)
                there.release()
                var out = back.claim()
                while out == nil { CDSIShims_cpu_pause(); out = back.claim() }
                out!.storeBytes(of: value, as: UInt64.self)
                back.commit()
            }
        }
        echo.start()
        _ = CDSIShims_pin_current_thread(Int32(producerCPU))
        var histogram = LatencyHistogram()
        for i in 0..<total {
            let start = Clock.monotonicNanos()
            there.claim()!.storeBytes(of: UInt64(i), as: UInt64.self)
            there.commit()
            var slot = back.peek()
            while slot == nil { CDSIShims_cpu_pause(); slot = back.peek() }
            back.release()
            let rtt = Clock.monotonicNanos() - start
            if i >= 1000 { histogram.record(rtt / 2) }
        }
        return (histogram.percentile(50), histogram.percentile(99))
    }
}
