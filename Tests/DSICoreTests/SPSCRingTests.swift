import DSICore
import Foundation
import Testing

@Suite struct SPSCRingTests {
    @Test func roundsCapacityAndSlotSize() {
        let ring = SPSCRing(capacity: 100, slotSize: 70)
        #expect(ring.capacity == 128)
        #expect(ring.slotSize == 128)
        #expect(ring.claim() != nil)
    }

    @Test func fullRingRefusesAndEmptyRingHasNothing() {
        let ring = SPSCRing(capacity: 4, slotSize: 64)
        #expect(ring.peek() == nil)
        for i in 0..<4 {
            let slot = try! #require(ring.claim())
            slot.storeBytes(of: i, as: Int.self)
            ring.commit()
        }
        #expect(ring.claim() == nil, "a full ring must refuse a claim, not overwrite")
        #expect(ring.peek()!.load(as: Int.self) == 0)
        ring.release()
        #expect(ring.claim() != nil)
        ring.testOnly_verifyInvariants()
    }

    /// Random batch claims and releases against a FIFO model: every value comes out once, in order.
    @Test(arguments: [1, 2, 7, 64])
    func matchesQueueModel(capacity: Int) {
        let ring = SPSCRing(capacity: capacity, slotSize: 64)
        var model: [UInt64] = []
        var next: UInt64 = 0
        var random = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            if Bool.random(using: &random) {
                let want = Int.random(in: 1...8, using: &random)
                let free = ring.freeSlots(limit: want)
                #expect(free == min(want, ring.capacity - model.count))
                for i in 0..<free {
                    ring.producerSlot(i).storeBytes(of: next, as: UInt64.self)
                    model.append(next)
                    next += 1
                }
                ring.commit(free)
            } else {
                let want = Int.random(in: 1...8, using: &random)
                let ready = ring.readySlots(limit: want)
                #expect(ready == min(want, model.count))
                for i in 0..<ready {
                    #expect(ring.consumerSlot(i).load(as: UInt64.self) == model[i])
                }
                model.removeFirst(ready)
                ring.release(ready)
            }
            ring.testOnly_verifyInvariants()
            #expect(ring.count == model.count)
        }
    }

    /// Two real threads: a million values cross the ring in order, none lost or repeated. Waiting sides yield
    /// (never spin): tests must not starve a two-core machine.
    @Test func twoThreadsKeepOrder() async {
        let ring = SPSCRing(capacity: 1024, slotSize: 64)
        let total: UInt64 = 1_000_000
        let producer = Thread {
            var i: UInt64 = 0
            while i < total {
                let free = ring.freeSlots(limit: 32)
                if free == 0 { sched_yield(); continue }
                let n = min(UInt64(free), total - i)
                for k in 0..<Int(n) { ring.producerSlot(k).storeBytes(of: i + UInt64(k), as: UInt64.self) }
                ring.commit(Int(n))
                i += n
            }
        }
        producer.start()
        var expected: UInt64 = 0
        var outOfOrder = 0
        while expected < total {
            let ready = ring.readySlots(limit: 32)
            if ready == 0 { sched_yield(); continue }
            for k in 0..<ready where ring.consumerSlot(k).load(as: UInt64.self) != expected + UInt64(k) { outOfOrder += 1 }
            expected += UInt64(ready)
            ring.release(ready)
        }
        #expect(outOfOrder == 0)
        #expect(expected == total)
    }

    @Test func memoryIsPreTouchedAndAligned() {
        let ring = SPSCRing(capacity: 8192, slotSize: 256)
        let slot = ring.claim()!
        #expect(Int(bitPattern: slot) % 64 == 0, "slots are cache-line aligned")
        #expect(slot.load(as: UInt64.self) == 0, "pre-touched memory is zeroed")
    }
}
