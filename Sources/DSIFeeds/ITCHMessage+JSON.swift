import DSICore

/// The `dsi decode --format jsonl` form of one ITCH message: common header, then every field named after the spec.
public enum ITCHJSON {
    /// The JSON object for the message at `p` (`length` bytes), or nil when its type is unknown or it is shorter than
    /// its layout (the caller counts those).
    public static func line(session: String, seq: UInt64, message p: UnsafeRawPointer, length: Int) -> String? {
        guard length >= 1, let layout = ITCHSchema.layout(for: p.byte(at: 0)), length >= layout.length else { return nil }
        var out = "{\"session\":\"\(session.jsonEscaped)\",\"seq\":\(seq),\"type\":\"\(Character(Unicode.Scalar(layout.type)))\""
        out += ",\"stockLocate\":\(p.bigEndianU16(at: 1)),\"trackingNumber\":\(p.bigEndianU16(at: 3))"
        out += ",\"timestamp\":\(p.bigEndianU48(at: 5))"
        for field in layout.fields {
            out += ",\"\(field.name)\":"
            switch field.kind {
            case .alpha(let width):
                out += "\"" + asciiText(p + field.offset, width).jsonEscaped + "\""
            case .uint(2): out += String(p.bigEndianU16(at: field.offset))
            case .uint(4), .price4: out += String(p.bigEndianU32(at: field.offset))
            case .uint(8), .price8: out += String(p.bigEndianU64(at: field.offset))
            case .uint(let n):
                var v: UInt64 = 0
                for i in 0..<n { v = v << 8 | UInt64(p.byte(at: field.offset + i)) }
                out += String(v)
            }
        }
        return out + "}"
    }

    /// ASCII text without its trailing spaces.
    public static func asciiText(_ p: UnsafeRawPointer, _ width: Int) -> String {
        var end = width
        while end > 0, p.byte(at: end - 1) == 0x20 { end -= 1 }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: end), as: UTF8.self)
    }
}
