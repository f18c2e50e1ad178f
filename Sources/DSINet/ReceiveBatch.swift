import CDSIShims
import DSICore
import Glibc

/// One `recvmmsg` into free ring slots: the scratch arrays the shim reads, allocated once per socket.
final class ReceiveBatch {
    private let buffers = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: Int(CDSIShims_MAX_BATCH))
    private let capacities = UnsafeMutablePointer<Int>.allocate(capacity: Int(CDSIShims_MAX_BATCH))
    private let lengths = UnsafeMutablePointer<Int>.allocate(capacity: Int(CDSIShims_MAX_BATCH))
    private let times = UnsafeMutablePointer<UInt64>.allocate(capacity: Int(CDSIShims_MAX_BATCH))
    private var drops: UInt32 = 0

    deinit {
        buffers.deallocate(); capacities.deallocate(); lengths.deallocate(); times.deallocate()
    }

    /// Receives what is waiting on `fd` (up to one batch, as many as the ring has free slots) straight into the
    /// slots, stamps each slot's header, commits them. Returns how many were committed.
    func receive(
        fd: Int32, into ring: SPSCRing, line: Int, what: @autoclosure () -> String,
        kernelDrops: Counter, oversized: Counter, hardwareStamped: Counter? = nil
    ) throws -> Int {
        let free = ring.freeSlots(limit: Int(CDSIShims_MAX_BATCH))
        if free == 0 { return 0 }  // back-pressure: the kernel buffer holds the rest until the pipeline catches up
        let room = ring.slotSize - PacketSlot.payloadOffset
        for i in 0..<free {
            buffers[i] = ring.producerSlot(i) + PacketSlot.payloadOffset
            capacities[i] = room
        }
        var stamped: UInt32 = 0
        let n = try shimCall(
            what(), CDSIShims_recv_batch(fd, buffers, capacities, lengths, times, UInt32(free), &drops, &stamped))
        if n == 0 { return 0 }
        kernelDrops.set(UInt64(drops))
        if stamped > 0 { hardwareStamped?.add(UInt64(stamped)) }
        var committed = 0
        for i in 0..<Int(n) {
            // The shim marks a datagram cut short by the slot (MSG_TRUNC) with SIZE_MAX, which reads as -1.
            if lengths[i] < 0 || lengths[i] > room {
                oversized.add()
                continue
            }
            // A later datagram moves down over a dropped one: slots stay dense and in arrival order.
            let slot = ring.producerSlot(committed)
            if committed != i {
                (slot + PacketSlot.payloadOffset).copyMemory(from: buffers[i]!, byteCount: lengths[i])
            }
            PacketSlot.setHeader(
                slot, receiveTime: times[i] != 0 ? times[i] : Clock.realtimeNanos(), length: lengths[i], line: line)
            committed += 1
        }
        ring.commit(committed)
        return committed
    }
}
