import DSICore
import DSIFeeds
import Testing

/// The holding store against a sorted model: any arrival order (ascending, descending, random), interleaved with
/// removals, gives back the lowest first each time, with each packet's own bytes.
@Suite struct PendingPacketsTests {
    @Test(arguments: ["ascending", "descending", "random"])
    func givesBackTheLowestWhateverTheOrder(order: String) {
        var random = SplitMix64(seed: 5)
        for trial in 0..<50 {
            let store = PendingPackets(capacity: 64)
            var model: [UInt64] = []
            var next: UInt64 = order == "descending" ? 10_000 : 1
            for _ in 0..<400 {
                if random.next() % 3 != 0 && !store.isFull {
                    let first: UInt64
                    switch order {
                    case "ascending": first = next; next += 1 + random.next() % 3
                    case "descending": first = next; next -= 1 + random.next() % 3
                    default: first = 1 + random.next() % 5_000
                    }
                    let bytes = (0..<8).map { UInt8(truncatingIfNeeded: first >> (8 * $0)) }
                    #expect(
                        bytes.withUnsafeBytes {
                            store.insert(first: first, count: 1, bytes: $0.baseAddress!, length: 8, receiveTime: 0, line: 0)
                        })
                    model.append(first)
                    model.sort()
                } else if let entry = store.removeLowest() {
                    #expect(entry.first == model.removeFirst(), "trial \(trial)")
                    let read = store.bytes(entry).loadUnaligned(as: UInt64.self)
                    #expect(read == entry.first, "its own bytes")
                }
                #expect(store.count == model.count && store.lowest == model.first)
            }
        }
    }

    @Test func aFullStoreRefusesAndAnOversizedPacketIsNotHeld() {
        let store = PendingPackets(capacity: 2)
        let small = [UInt8](repeating: 1, count: 10), big = [UInt8](repeating: 2, count: PendingPackets.slotSize + 1)
        #expect(
            !big.withUnsafeBytes {
                store.insert(first: 1, count: 1, bytes: $0.baseAddress!, length: $0.count, receiveTime: 0, line: 0)
            })
        for f in [UInt64(5), 3] {
            #expect(
                small.withUnsafeBytes {
                    store.insert(first: f, count: 1, bytes: $0.baseAddress!, length: 10, receiveTime: 0, line: 0)
                })
        }
        #expect(store.isFull)
        #expect(
            !small.withUnsafeBytes {
                store.insert(first: 9, count: 1, bytes: $0.baseAddress!, length: 10, receiveTime: 0, line: 0)
            })
        #expect(store.removeLowest()?.first == 3 && store.removeLowest()?.first == 5 && store.removeLowest() == nil)
    }
}
