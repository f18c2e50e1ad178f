import DSICore

/// The layout of an ingest ring slot: a small header, then the datagram exactly as the kernel wrote it.
///
/// `[0, 8)` kernel receive time (ns since the epoch), `[8, 12)` datagram length, `[12]` line index, payload from 64
/// (cache-line aligned, so the ITCH decoder's first loads do not straddle the header's line).
public enum PacketSlot {
    public static let payloadOffset = 64

    @inlinable public static func receiveTime(_ slot: UnsafeRawPointer) -> UInt64 {
        slot.load(fromByteOffset: 0, as: UInt64.self)
    }
    @inlinable public static func length(_ slot: UnsafeRawPointer) -> Int { Int(slot.load(fromByteOffset: 8, as: UInt32.self)) }
    @inlinable public static func line(_ slot: UnsafeRawPointer) -> Int { Int(slot.load(fromByteOffset: 12, as: UInt8.self)) }
    @inlinable public static func payload(_ slot: UnsafeRawPointer) -> UnsafeRawPointer { slot + payloadOffset }

    @inlinable
    public static func setHeader(_ slot: UnsafeMutableRawPointer, receiveTime: UInt64, length: Int, line: Int) {
        slot.storeBytes(of: receiveTime, toByteOffset: 0, as: UInt64.self)
        slot.storeBytes(of: UInt32(length), toByteOffset: 8, as: UInt32.self)
        slot.storeBytes(of: UInt8(truncatingIfNeeded: line), toByteOffset: 12, as: UInt8.self)
    }
}
