import DSICore

/// Builds ITCH 5.0 messages from field values, driven by `ITCHSchema`: the generator and tests use it, the hot path
/// never does.
public enum ITCHEncoder {
    /// A field value: integers (prices in raw units) or text (space padded to the field's width).
    public enum Value: Sendable, ExpressibleByIntegerLiteral, ExpressibleByStringLiteral {
        case int(UInt64)
        case text(String)
        public init(integerLiteral value: UInt64) { self = .int(value) }
        public init(stringLiteral value: String) { self = .text(value) }
    }

    public enum EncodeError: Error, CustomStringConvertible {
        case unknownType(UInt8)
        case fieldCount(type: UInt8, expected: Int, got: Int)
        case mismatch(field: String)

        public var description: String {
            switch self {
            case .unknownType(let t): "unknown ITCH message type \(t)"
            case .fieldCount(let t, let e, let g): "ITCH \(Character(Unicode.Scalar(t))) takes \(e) fields, got \(g)"
            case .mismatch(let f): "field \(f): value does not fit the field's kind"
            }
        }
    }

    /// Appends one message to `out`.
    /// - Parameters:
    ///   - values: the body fields in the spec's order (after the common header).
    public static func append(
        _ type: Character, locate: UInt16, tracking: UInt16 = 0, timestamp: UInt64, _ values: [Value], to out: inout [UInt8]
    ) throws {
        let letter = type.asciiValue ?? 0
        guard let layout = ITCHSchema.layout(for: letter) else { throw EncodeError.unknownType(letter) }
        guard layout.fields.count == values.count else {
            throw EncodeError.fieldCount(type: letter, expected: layout.fields.count, got: values.count)
        }
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: layout.length))
        try out.withUnsafeMutableBytes { raw in
            let p = raw.baseAddress! + start
            p.storeByte(letter, at: 0)
            p.storeBigEndian(locate, at: 1)
            p.storeBigEndian(tracking, at: 3)
            p.storeBigEndianU48(timestamp, at: 5)
            for (field, value) in zip(layout.fields, values) {
                switch (field.kind, value) {
                case (.alpha(let width), .text(let text)):
                    var bytes = Array(text.utf8.prefix(width))
                    while bytes.count < width { bytes.append(0x20) }
                    for (i, b) in bytes.enumerated() { p.storeByte(b, at: field.offset + i) }
                case (.alpha(1), .int(let v)):
                    p.storeByte(UInt8(truncatingIfNeeded: v), at: field.offset)
                case (.uint(2), .int(let v)): p.storeBigEndian(UInt16(truncatingIfNeeded: v), at: field.offset)
                case (.uint(4), .int(let v)), (.price4, .int(let v)):
                    p.storeBigEndian(UInt32(truncatingIfNeeded: v), at: field.offset)
                case (.uint(8), .int(let v)), (.price8, .int(let v)): p.storeBigEndian(v, at: field.offset)
                default: throw EncodeError.mismatch(field: field.name)
                }
            }
        }
    }

    /// One message as a new array (tests).
    public static func message(
        _ type: Character, locate: UInt16, tracking: UInt16 = 0, timestamp: UInt64, _ values: [Value]
    ) throws -> [UInt8] {
        var out: [UInt8] = []
        try append(type, locate: locate, tracking: tracking, timestamp: timestamp, values, to: &out)
        return out
    }
}
