/// The tick's fixed binary form on the publish wire and in the journal (little-endian, `Tick.wireSize` bytes). See
/// docs/publish-protocol.md. Bytes 80-95 hold the book sizes of a quote or the range of a status tick (a gap or a
/// join): no tick has both. Bytes 104-111 hold the feed's name (ASCII, space padded; zero when unnamed).
extension Tick {
    public static let wireSize = 112

    /// Writes the tick at `p` (at least `wireSize` bytes).
    @inlinable
    public func write(to p: UnsafeMutableRawPointer) {
        p.storeBytes(of: kind.rawValue, toByteOffset: 0, as: UInt8.self)
        p.storeBytes(of: side, toByteOffset: 1, as: UInt8.self)
        p.storeBytes(of: statusType, toByteOffset: 2, as: UInt8.self)
        p.storeBytes(of: statusCode, toByteOffset: 3, as: UInt8.self)
        p.storeBytes(of: stockLocate.littleEndian, toByteOffset: 4, as: UInt16.self)
        p.storeBytes(of: flags, toByteOffset: 6, as: UInt8.self)
        p.storeBytes(of: UInt8(0), toByteOffset: 7, as: UInt8.self)
        p.storeBytes(of: reason, toByteOffset: 8, as: UInt32.self)  // raw bytes, as on the exchange wire
        p.storeBytes(of: price.littleEndian, toByteOffset: 12, as: UInt32.self)
        p.storeBytes(of: stock.raw, toByteOffset: 16, as: UInt64.self)  // raw bytes, first character first
        p.storeBytes(of: seq.littleEndian, toByteOffset: 24, as: UInt64.self)
        p.storeBytes(of: streamSeq.littleEndian, toByteOffset: 32, as: UInt64.self)
        p.storeBytes(of: timestamp.littleEndian, toByteOffset: 40, as: UInt64.self)
        p.storeBytes(of: receiveTime.littleEndian, toByteOffset: 48, as: UInt64.self)
        p.storeBytes(of: bidPrice.littleEndian, toByteOffset: 56, as: UInt32.self)
        p.storeBytes(of: askPrice.littleEndian, toByteOffset: 60, as: UInt32.self)
        p.storeBytes(of: shares.littleEndian, toByteOffset: 64, as: UInt64.self)
        p.storeBytes(of: matchNumber.littleEndian, toByteOffset: 72, as: UInt64.self)
        let status = kind == .status
        p.storeBytes(of: (status ? gapFirst : bidSize).littleEndian, toByteOffset: 80, as: UInt64.self)
        p.storeBytes(of: (status ? gapLast : askSize).littleEndian, toByteOffset: 88, as: UInt64.self)
        p.storeBytes(of: topicSeq.littleEndian, toByteOffset: 96, as: UInt64.self)
        p.storeBytes(of: feed.raw, toByteOffset: 104, as: UInt64.self)  // raw bytes, first character first
    }

    /// Reads a tick written by `write(to:)`; nil when the kind byte is not a known kind.
    @inlinable
    public init?(wire p: UnsafeRawPointer) {
        guard let kind = Kind(rawValue: p.load(fromByteOffset: 0, as: UInt8.self)) else { return nil }
        self.init(kind: kind)
        side = p.load(fromByteOffset: 1, as: UInt8.self)
        statusType = p.load(fromByteOffset: 2, as: UInt8.self)
        statusCode = p.load(fromByteOffset: 3, as: UInt8.self)
        flags = p.load(fromByteOffset: 6, as: UInt8.self)
        stockLocate = UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt16.self))
        reason = p.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
        price = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
        stock = Symbol(raw: p.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        seq = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
        streamSeq = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 32, as: UInt64.self))
        timestamp = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 40, as: UInt64.self))
        receiveTime = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 48, as: UInt64.self))
        bidPrice = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 56, as: UInt32.self))
        askPrice = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 60, as: UInt32.self))
        shares = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 64, as: UInt64.self))
        matchNumber = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 72, as: UInt64.self))
        let first = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 80, as: UInt64.self))
        let second = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 88, as: UInt64.self))
        if kind == .status {
            gapFirst = first
            gapLast = second
        } else {
            bidSize = first
            askSize = second
        }
        topicSeq = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 96, as: UInt64.self))
        feed = Symbol(raw: p.loadUnaligned(fromByteOffset: 104, as: UInt64.self))
    }
}
