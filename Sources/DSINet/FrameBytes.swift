import DSICore

/// Builds one frame of the publish protocol: type, then big-endian fields; `bytes` adds the length in front.
struct FrameBuilder {
    private var body: [UInt8]

    init(type: UInt8) { body = [type] }

    mutating func u8(_ v: UInt8) { body.append(v) }
    mutating func u16(_ v: UInt16) { append(UInt64(v), bytes: 2) }
    mutating func u32(_ v: UInt32) { append(UInt64(v), bytes: 4) }
    mutating func u64(_ v: UInt64) { append(v, bytes: 8) }
    /// Raw bytes (a symbol's alpha8 in wire order, UTF-8 text).
    mutating func raw(_ bytes: some Sequence<UInt8>) { body.append(contentsOf: bytes) }
    mutating func symbol(_ raw: UInt64) { for i in 0..<8 { body.append(UInt8(truncatingIfNeeded: raw >> (8 * UInt64(i)))) } }

    private mutating func append(_ v: UInt64, bytes: Int) {
        for shift in stride(from: (bytes - 1) * 8, through: 0, by: -8) {
            body.append(UInt8(truncatingIfNeeded: v >> UInt64(shift)))
        }
    }

    /// The frame: its length (of type and payload, big-endian u16), type, payload.
    var bytes: [UInt8] {
        precondition(body.count <= Int(UInt16.max), "a frame holds at most 65535 bytes after its length")
        return [UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
    }
}

/// Reads a frame's payload field by field; every read is checked against what the frame holds.
struct FrameCursor {
    let payload: UnsafeRawBufferPointer
    private(set) var offset = 0
    /// What the frame is, for errors ("a subscribe frame").
    let what: String

    init(_ payload: UnsafeRawBufferPointer, what: String) {
        self.payload = payload
        self.what = what
    }

    var remaining: Int { payload.count - offset }

    private mutating func take(_ n: Int, _ field: String) throws -> UnsafeRawPointer {
        guard remaining >= n, let base = payload.baseAddress else {
            throw FrameError("\(what) of \(payload.count) bytes ends inside its \(field)")
        }
        defer { offset += n }
        return base + offset
    }

    mutating func u8(_ field: String) throws -> UInt8 { try take(1, field).load(as: UInt8.self) }
    mutating func u16(_ field: String) throws -> UInt16 { try take(2, field).bigEndianU16(at: 0) }
    mutating func u32(_ field: String) throws -> UInt32 { try take(4, field).bigEndianU32(at: 0) }
    mutating func u64(_ field: String) throws -> UInt64 { try take(8, field).bigEndianU64(at: 0) }
    mutating func symbol(_ field: String) throws -> UInt64 { try take(8, field).loadUnaligned(as: UInt64.self) }
    mutating func bytes(_ n: Int, _ field: String) throws -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: try take(n, field), count: n)
    }
    /// The rest of the payload as text (invalid UTF-8 read lossily).
    mutating func text() -> String {
        defer { offset = payload.count }
        return String(decoding: UnsafeRawBufferPointer(rebasing: payload[offset...]), as: UTF8.self)
    }

    /// Refuses bytes left over after the last field.
    func end() throws {
        guard remaining == 0 else { throw FrameError("\(what) has \(remaining) bytes after its last field") }
    }
}

/// A frame that breaks the protocol, in words.
public struct FrameError: Error, CustomStringConvertible, Equatable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
