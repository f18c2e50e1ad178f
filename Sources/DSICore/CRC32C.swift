/// CRC-32C (Castagnoli), the checksum of a journal record: a torn or damaged record fails it.
public enum CRC32C {
    @usableFromInline static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }

    /// The checksum of `count` bytes at `p`.
    @inlinable
    public static func checksum(_ p: UnsafeRawPointer, count: Int) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { t in
            for i in 0..<count { crc = t[Int((crc ^ UInt32(p.load(fromByteOffset: i, as: UInt8.self))) & 0xFF)] ^ (crc >> 8) }
        }
        return crc ^ 0xFFFF_FFFF
    }
}
