import CRing
import DSIRuntime
import DSITools
import Foundation

// DSI's SPSC ring against the plain C ring, alternated segment by segment in one process (who goes first alternates
// too), so that both meet the same moods of a shared machine; the ratio is taken per round, then the median.
// Producer on CPU 0, consumer on CPU 1, 64-byte messages, 1024 slots, both sides busy-poll. Stops by itself.
//   ROUNDS=20 MESSAGES=2000000 ROUND_TRIPS=20000 swift run -c release RingCompare
let environment = ProcessInfo.processInfo.environment
let rounds = Int(environment["ROUNDS"] ?? "") ?? 20
let messages = Int(environment["MESSAGES"] ?? "") ?? 2_000_000
let roundTrips = Int(environment["ROUND_TRIPS"] ?? "") ?? 20_000

struct Sample { var rate: Double; var p50: UInt64; var p99: UInt64 }

func swiftRing() -> Sample {
    let rate = RingBenchmark.stream(messages: messages, producerCPU: 0, consumerCPU: 1)
    let (p50, p99) = RingBenchmark.pingPong(roundTrips: roundTrips, producerCPU: 0, consumerCPU: 1)
    return Sample(rate: rate, p50: p50, p99: p99)
}

func cRing() -> Sample {
    let rate = cring_stream(UInt64(messages), 0, 1)
    var p50: UInt64 = 0, p99: UInt64 = 0
    cring_pingpong(UInt64(roundTrips), 0, 1, &p50, &p99)
    return Sample(rate: rate, p50: p50, p99: p99)
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

var swift: [Sample] = [], c: [Sample] = []
for round in 0..<rounds {
    if round % 2 == 0 {
        swift.append(swiftRing()); c.append(cRing())
    } else {
        c.append(cRing()); swift.append(swiftRing())
    }
}
let throughputRatios = zip(swift, c).map { $0.rate / $1.rate }
let latencyRatios = zip(swift, c).map { Double($0.p50) / Double($1.p50) }
let report: [String: Any] = [
    "rounds": rounds, "messages": messages, "roundTrips": roundTrips,
    "swift": [
        "msgsPerSec": median(swift.map(\.rate)).rounded(), "latencyP50Ns": median(swift.map { Double($0.p50) }),
        "latencyP99Ns": median(swift.map { Double($0.p99) }),
    ],
    "c": [
        "msgsPerSec": median(c.map(\.rate)).rounded(), "latencyP50Ns": median(c.map { Double($0.p50) }),
        "latencyP99Ns": median(c.map { Double($0.p99) }),
    ],
    "throughputRatio": (median(throughputRatios) * 1000).rounded() / 1000,
    "throughputRatios": throughputRatios.map { ($0 * 100).rounded() / 100 },
    "latencyP50Ratio": (median(latencyRatios) * 1000).rounded() / 1000,
]
let json = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys])
print(String(decoding: json, as: UTF8.self))
