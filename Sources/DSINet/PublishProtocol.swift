import DSICore

/// The publish wire protocol inside TLS (docs/publish-protocol.md): frames of a big-endian u16 length (of type and
/// payload), a type byte, then the payload.
public enum PublishProtocol {
    public static let version: UInt16 = 1
    public static let headerSize = 3

    public enum FrameType: UInt8, Sendable {
        /// First frame: version u16, tick size u16, next stream sequence u64 (all big-endian).
        case hello = 0x48  // "H"
        /// One tick in its fixed binary form (`Tick.wireSize` bytes, little-endian fields).
        case tick = 0x54  // "T"
        /// The publisher is closing the stream: last stream sequence sent, u64.
        case end = 0x45  // "E"
        /// The publisher is dropping this subscriber (a slow consumer, shutdown): the reason as UTF-8 text.
        case goodbye = 0x47  // "G"
    }

    public static let tickFrameSize = headerSize + Tick.wireSize

    /// Writes a tick frame at `p`; returns its size.
    @inlinable
    public static func writeTickFrame(_ tick: Tick, to p: UnsafeMutableRawPointer) -> Int {
        p.storeBigEndian(UInt16(1 + Tick.wireSize), at: 0)
        p.storeByte(FrameType.tick.rawValue, at: 2)
        tick.write(to: p + headerSize)
        return tickFrameSize
    }

    public static func helloFrame(nextStreamSeq: UInt64) -> [UInt8] {
        var out: [UInt8] = [0, 13, FrameType.hello.rawValue]
        out += [UInt8(version >> 8), UInt8(version & 0xFF), UInt8(Tick.wireSize >> 8), UInt8(Tick.wireSize & 0xFF)]
        for shift in stride(from: 56, through: 0, by: -8) {
            out.append(UInt8(truncatingIfNeeded: nextStreamSeq >> UInt64(shift)))
        }
        return out
    }

    public static func endFrame(lastStreamSeq: UInt64) -> [UInt8] {
        var out: [UInt8] = [0, 9, FrameType.end.rawValue]
        for shift in stride(from: 56, through: 0, by: -8) {
            out.append(UInt8(truncatingIfNeeded: lastStreamSeq >> UInt64(shift)))
        }
        return out
    }

    public static func goodbyeFrame(reason: String) -> [UInt8] {
        let text = Array(reason.utf8.prefix(1000))
        let length = 1 + text.count
        return [UInt8(length >> 8), UInt8(length & 0xFF), FrameType.goodbye.rawValue] + text
    }
}
