import DSICore
import DSINet
import DSIPcap

/// What a replay needs to know of a capture before sending it: how many datagrams (for progress and limits), how
/// long one pass lasts, and the span of its MoldUDP64 sequences (to number a further pass after this one).
struct ReplayPlan {
    var datagrams = 0
    /// MoldUDP64 messages in one pass.
    var messages = 0
    /// One pass's length on the capture's clock plus one mean packet gap: where the next pass starts (ns).
    var passNanos: UInt64 = 0
    /// From the lowest sequence to past the highest message: what a further pass's sequences are shifted by.
    var sequenceSpan: UInt64 = 0

    init(path: String) throws {
        let reader = try PcapReader(path: path)
        var first: UInt64 = .max, last: UInt64 = 0
        var lowest: UInt64 = .max, end: UInt64 = 0
        try reader.forEachDatagram { datagram in
            datagrams += 1
            first = min(first, datagram.time)
            last = max(last, datagram.time)
            guard let base = datagram.payload.baseAddress, let packet = MoldUDP64Packet(base, length: datagram.payload.count)
            else { return }
            messages += packet.messageCount
            lowest = min(lowest, packet.sequence)
            // A damaged sequence near 2^64 must not wrap the span.
            end = max(end, packet.sequence.addingReportingOverflow(UInt64(packet.messageCount)).partialValue)
        }
        guard datagrams > 0 else { return }
        let span = last - first
        // Saturating: a damaged capture's stamps may span centuries.
        let (sum, overflow) = span.addingReportingOverflow(datagrams > 1 ? span / UInt64(datagrams - 1) : 1_000)
        passNanos = overflow ? .max : sum
        sequenceSpan = end > lowest ? end - lowest : 0
    }
}

/// Datagrams gathered for `sendmmsg` at top speed: one list per destination, copied into a slab of their own (the
/// reader reuses its bytes), sent when a destination's list is full, a pass ends or the replay stops.
final class SendBatch {
    /// A slot holds the largest UDP payload there is, so no datagram is ever cut or sent out of turn.
    private static let slot = 65_536
    private let capacity = MulticastSender.maxBatch
    private let slabs: [UnsafeMutableRawPointer]
    private let pointers: [UnsafeMutablePointer<UnsafeRawPointer?>]
    private let lengths: [UnsafeMutablePointer<Int>]
    private var counts: [Int]
    /// Scratch for one renumbered datagram.
    private let scratch = UnsafeMutableRawPointer.allocate(byteCount: slot, alignment: 8)

    init(destinations: Int) {
        let n = max(1, destinations)
        slabs = (0..<n).map { _ in .allocate(byteCount: Self.slot * MulticastSender.maxBatch, alignment: 64) }
        pointers = (0..<n).map { _ in .allocate(capacity: MulticastSender.maxBatch) }
        lengths = (0..<n).map { _ in .allocate(capacity: MulticastSender.maxBatch) }
        counts = Array(repeating: 0, count: n)
    }

    deinit {
        for p in slabs { p.deallocate() }
        for p in pointers { p.deallocate() }
        for p in lengths { p.deallocate() }
        scratch.deallocate()
    }

    var isFull: Bool { counts.contains { $0 == capacity } }

    /// Adds a datagram for destination `i`.
    func add(_ payload: UnsafeRawBufferPointer, for i: Int) {
        let slot = slabs[i] + counts[i] * Self.slot
        let n = min(payload.count, Self.slot)
        if n > 0 { slot.copyMemory(from: payload.baseAddress!, byteCount: n) }
        pointers[i][counts[i]] = UnsafeRawPointer(slot)
        lengths[i][counts[i]] = n
        counts[i] += 1
    }

    func flush(_ sender: MulticastSender, to destinations: [IPv4Endpoint]) throws {
        for (i, destination) in destinations.enumerated() where counts[i] > 0 {
            try sender.send(batch: pointers[i], lengths: lengths[i], count: counts[i], to: destination)
            counts[i] = 0
        }
    }

    /// A copy of a MoldUDP64 datagram with its sequence number (bytes 10-17, big-endian) moved on by `shift`.
    func renumbered(_ payload: UnsafeRawBufferPointer, by shift: UInt64) -> UnsafeRawBufferPointer {
        let n = min(payload.count, Self.slot)
        scratch.copyMemory(from: payload.baseAddress!, byteCount: n)
        let sequence = UInt64(bigEndian: scratch.loadUnaligned(fromByteOffset: 10, as: UInt64.self))
        scratch.storeBytes(of: (sequence &+ shift).bigEndian, toByteOffset: 10, as: UInt64.self)
        return UnsafeRawBufferPointer(start: scratch, count: n)
    }
}
