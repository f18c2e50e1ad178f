import DSICore
import SwiftProtobuf

/// The tick in the Protocol Buffers encoding (docs/dsi.proto), through the code generated from the schema.
public enum TickProtobuf {
    public static func message(_ tick: Tick) -> Dsi_Tick {
        var m = Dsi_Tick()
        m.kind = Dsi_Kind(rawValue: Int(tick.kind.rawValue)) ?? .unspecified
        m.seq = tick.seq
        m.streamSeq = tick.streamSeq
        m.topicSeq = tick.topicSeq
        m.image = tick.flags & Tick.Flags.image != 0
        m.conflated = tick.flags & Tick.Flags.conflated != 0
        m.stockLocate = UInt32(tick.stockLocate)
        m.stock = tick.stock.description
        if tick.feed.raw != 0 { m.feed = tick.feed.description }
        m.timestamp = tick.timestamp
        m.receiveTime = tick.receiveTime
        m.side = UInt32(tick.side)
        m.statusType = UInt32(tick.statusType)
        m.statusCode = UInt32(tick.statusCode)
        if tick.reason != 0 { m.reason = Symbol(raw: UInt64(tick.reason) | 0x2020_2020_0000_0000).description }
        m.price = tick.price
        m.shares = tick.shares
        m.matchNumber = tick.matchNumber
        m.bidPrice = tick.bidPrice
        m.bidSize = tick.bidSize
        m.askPrice = tick.askPrice
        m.askSize = tick.askSize
        m.gapFirst = tick.gapFirst
        m.gapLast = tick.gapLast
        return m
    }

    public static func encode(_ tick: Tick) -> [UInt8] {
        // Serializing a message of scalars and short strings cannot fail.
        (try? message(tick).serializedBytes()) ?? []
    }

    public static func decode(_ payload: UnsafeRawBufferPointer) throws -> Tick {
        let m: Dsi_Tick
        do {
            m = try Dsi_Tick(serializedBytes: Array(payload))
        } catch {
            throw FrameError("a protobuf tick that does not parse: \(error)")
        }
        guard let kind = Tick.Kind(rawValue: UInt8(truncatingIfNeeded: m.kind.rawValue)), m.kind.rawValue <= 4 else {
            throw FrameError("a protobuf tick of unknown kind \(m.kind.rawValue)")
        }
        guard m.stockLocate <= UInt16.max else { throw FrameError("a protobuf tick with stock locate \(m.stockLocate)") }
        var t = Tick(kind: kind)
        t.seq = m.seq
        t.streamSeq = m.streamSeq
        t.topicSeq = m.topicSeq
        if m.image { t.flags |= Tick.Flags.image }
        if m.conflated { t.flags |= Tick.Flags.conflated }
        t.stockLocate = UInt16(m.stockLocate)
        t.stock = Symbol(m.stock)
        if !m.feed.isEmpty {
            guard m.feed.utf8.count <= 8 else { throw FrameError("a protobuf tick with a feed name over 8 bytes") }
            t.feed = Symbol(m.feed)
        }
        t.timestamp = m.timestamp
        t.receiveTime = m.receiveTime
        t.side = UInt8(truncatingIfNeeded: m.side)
        t.statusType = UInt8(truncatingIfNeeded: m.statusType)
        t.statusCode = UInt8(truncatingIfNeeded: m.statusCode)
        if m.hasReason { t.reason = UInt32(truncatingIfNeeded: Symbol(m.reason).raw) }
        t.price = m.price
        t.shares = m.shares
        t.matchNumber = m.matchNumber
        t.bidPrice = m.bidPrice
        t.bidSize = m.bidSize
        t.askPrice = m.askPrice
        t.askSize = m.askSize
        t.gapFirst = m.gapFirst
        t.gapLast = m.gapLast
        return t
    }
}
