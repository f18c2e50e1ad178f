import DSICore

/// A tick frame in each encoding (docs/publish-protocol.md, "Tick frames").
enum TickFrames {
    /// Appends `tick`'s frame in `encoding` to `out`.
    static func append(_ tick: Tick, as encoding: PublishProtocol.Encoding, to out: inout [UInt8]) {
        switch encoding {
        case .binary:
            let start = out.count
            out.append(contentsOf: repeatElement(0, count: PublishProtocol.tickFrameSize))
            out.withUnsafeMutableBytes { _ = PublishProtocol.writeTickFrame(tick, to: $0.baseAddress! + start) }
        case .json:
            appendFrame(Array(tick.jsonLine.utf8), to: &out)
        case .protobuf:
            appendFrame(TickProtobuf.encode(tick), to: &out)
        }
    }

    static func appendFrame(_ payload: [UInt8], to out: inout [UInt8]) {
        let length = 1 + payload.count  // a tick's JSON or protobuf form is far below 64 KiB
        out.append(UInt8(length >> 8))
        out.append(UInt8(length & 0xFF))
        out.append(PublishProtocol.ServerFrameType.tick.rawValue)
        out.append(contentsOf: payload)
    }
}

/// The encodings other than binary of one batch's ticks, each built once, the first time a subscriber of that
/// encoding takes the tick: N subscribers of JSON cost one JSON form per tick, not N.
struct EncodedBatch {
    private var bytes: [[UInt8]]
    /// Per encoding, where each tick's frame starts in `bytes` and how long it is (count 0: not built).
    private var spans: [[(start: Int, count: Int)]]
    /// Per encoding, the ticks whose frames were built this batch (what `reset` clears).
    private var built: [[Int]]

    init(capacity: Int) {
        bytes = Array(repeating: [], count: PublishProtocol.Encoding.allCases.count + 1)
        spans = Array(repeating: Array(repeating: (0, 0), count: capacity), count: PublishProtocol.Encoding.allCases.count + 1)
        built = Array(repeating: [], count: PublishProtocol.Encoding.allCases.count + 1)
        for e in bytes.indices {
            bytes[e].reserveCapacity(capacity * 256)
            built[e].reserveCapacity(capacity)
        }
    }

    /// Forgets the previous batch's frames.
    mutating func reset() {
        for e in bytes.indices where !built[e].isEmpty {
            bytes[e].removeAll(keepingCapacity: true)
            for i in built[e] { spans[e][i] = (0, 0) }
            built[e].removeAll(keepingCapacity: true)
        }
    }

    /// Calls `body` with tick `i`'s frame in `encoding`, building it first if no one has needed it yet.
    mutating func withFrame(
        _ i: Int, _ tick: Tick, _ encoding: PublishProtocol.Encoding, _ body: (UnsafeRawBufferPointer) -> Void
    ) {
        let e = Int(encoding.rawValue)
        if spans[e][i].count == 0 {
            let start = bytes[e].count
            TickFrames.append(tick, as: encoding, to: &bytes[e])
            spans[e][i] = (start, bytes[e].count - start)
            built[e].append(i)
        }
        let span = spans[e][i]
        bytes[e].withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[span.start..<span.start + span.count])) }
    }
}
