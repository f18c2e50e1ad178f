/// Big-endian field access for wire formats (ITCH, MoldUDP64, network headers): unaligned loads and stores at a byte
/// offset, so a decoder reads fields in place from the packet bytes.
extension UnsafeRawPointer {
    @inlinable @inline(__always)
    public func bigEndianU16(at offset: Int) -> UInt16 {
        UInt16(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }
    @inlinable @inline(__always)
    public func bigEndianU32(at offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
    @inlinable @inline(__always)
    public func bigEndianU64(at offset: Int) -> UInt64 {
        UInt64(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
    /// A 6-byte big-endian integer (ITCH timestamps): u16 high, then u32 low.
    @inlinable @inline(__always)
    public func bigEndianU48(at offset: Int) -> UInt64 {
        UInt64(bigEndianU16(at: offset)) << 32 | UInt64(bigEndianU32(at: offset + 2))
    }
    @inlinable @inline(__always)
    public func byte(at offset: Int) -> UInt8 { load(fromByteOffset: offset, as: UInt8.self) }
    /// An 8-byte alpha field as raw bytes (first character in the lowest byte).
    @inlinable @inline(__always)
    public func symbol(at offset: Int) -> Symbol { Symbol(raw: loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
}

extension UnsafeMutableRawPointer {
    @inlinable @inline(__always)
    public func storeBigEndian(_ v: UInt16, at offset: Int) { storeBytes(of: v.bigEndian, toByteOffset: offset, as: UInt16.self) }
    @inlinable @inline(__always)
    public func storeBigEndian(_ v: UInt32, at offset: Int) { storeBytes(of: v.bigEndian, toByteOffset: offset, as: UInt32.self) }
    @inlinable @inline(__always)
    public func storeBigEndian(_ v: UInt64, at offset: Int) { storeBytes(of: v.bigEndian, toByteOffset: offset, as: UInt64.self) }
    /// A 6-byte big-endian integer (ITCH timestamps).
    @inlinable @inline(__always)
    public func storeBigEndianU48(_ v: UInt64, at offset: Int) {
        storeBigEndian(UInt16(truncatingIfNeeded: v >> 32), at: offset)
        storeBigEndian(UInt32(truncatingIfNeeded: v), at: offset + 2)
    }
    @inlinable @inline(__always)
    public func storeByte(_ v: UInt8, at offset: Int) { storeBytes(of: v, toByteOffset: offset, as: UInt8.self) }
}
