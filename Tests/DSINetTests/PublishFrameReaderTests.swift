import DSICore
import DSINet
import Testing

/// The subscriber's reading of the publish stream, fed what a broken or hostile publisher might send.
@Suite struct PublishFrameReaderTests {
    func frame(_ type: UInt8, _ payload: [UInt8]) -> [UInt8] {
        let length = payload.count + 1
        return [UInt8(length >> 8), UInt8(length & 0xFF), type] + payload
    }

    func read(_ bytes: [UInt8], _ encoding: PublishProtocol.Encoding = .binary) throws -> (frame: ServerFrame, consumed: Int)? {
        try bytes.withUnsafeBytes { try PublishFrameReader.next(in: $0, encoding: encoding) }
    }

    func refusal(_ bytes: [UInt8], _ encoding: PublishProtocol.Encoding = .binary) -> String {
        do {
            _ = try read(bytes, encoding)
            return "accepted"
        } catch { return "\(error)" }
    }

    static func sampleTicks() -> [Tick] {
        var trade = Tick(kind: .trade)
        trade.streamSeq = 7; trade.topicSeq = 3; trade.seq = 99; trade.stock = Symbol("ZXA"); trade.stockLocate = 4
        trade.price = 1_234_500; trade.shares = 300; trade.matchNumber = 77; trade.side = UInt8(ascii: "S")
        trade.timestamp = 34_200_000_000_123; trade.receiveTime = 1_700_000_000_000_000_001
        var quote = Tick(kind: .quote)
        quote.streamSeq = 8; quote.topicSeq = 1; quote.stock = Symbol("ZXB"); quote.stockLocate = 5
        quote.bidPrice = 100; quote.bidSize = 1 << 40; quote.askPrice = 200; quote.askSize = 7
        quote.flags = Tick.Flags.image | Tick.Flags.conflated
        var gap = Tick(kind: .status)
        gap.statusType = Tick.gapStatusType; gap.gapFirst = 10; gap.gapLast = 20; gap.streamSeq = 9; gap.topicSeq = 1
        var halt = Tick(kind: .status)
        halt.statusType = UInt8(ascii: "H"); halt.statusCode = UInt8(ascii: "H"); halt.stock = Symbol("ZXA")
        halt.stockLocate = 4; halt.reason = UInt32(truncatingIfNeeded: Symbol("T1").raw); halt.topicSeq = 2
        var join = Tick(kind: .status)
        join.statusType = Tick.joinStatusType; join.gapFirst = 5000
        var broken = Tick(kind: .tradeBreak)
        broken.matchNumber = 77; broken.stock = Symbol("ZXA"); broken.stockLocate = 4
        return [trade, quote, gap, halt, join, broken]
    }

    /// Every kind of tick reads back equal in each encoding (binary, JSON, protobuf).
    @Test(arguments: PublishProtocol.Encoding.allCases)
    func ticksReadBackInEachEncoding(encoding: PublishProtocol.Encoding) throws {
        for tick in Self.sampleTicks() {
            var bytes: [UInt8] = []
            switch encoding {
            case .binary: bytes = ServerFrame.tick(tick).bytes
            case .json: bytes = frame(0x54, Array(tick.jsonLine.utf8))
            case .protobuf: bytes = frame(0x54, TickProtobuf.encode(tick))
            }
            #expect(try read(bytes, encoding)?.frame == .tick(tick), "\(encoding.name): \(tick.jsonLine)")
        }
    }

    @Test func serverFramesReadBack() throws {
        let hello = ServerFrame.Hello(
            version: 2, encoding: 1, tickSize: 112, heartbeatMillis: 1000, nextStreamSeq: 9, firstRetained: 1,
            day: 20_261_130, maxSymbols: 10_000)
        let frames: [ServerFrame] = [
            .hello(hello), .subscribed(.init(request: 3, firstStreamSeq: 44, images: 12, flags: 1)),
            .heartbeat(lastStreamSeq: 5, time: 123), .error(code: 6, request: 3, reason: "too many"),
            .goodbye(code: 14, reason: "slow"), .end(lastStreamSeq: 5),
        ]
        for f in frames { #expect(try read(f.bytes)?.frame == f) }
        #expect(try read(frame(0x5A, [1, 2, 3]))?.frame == .unknown(type: 0x5A), "a newer publisher's frame is skipped")
        #expect(try read(frame(0x5A, [1, 2, 3]))?.consumed == 6)
    }

    @Test func damagedFramesAreRefusedInWordsOrWaitedFor() throws {
        #expect(try read([0x00]) == nil && read([0x00, 0x10, 0x54, 1, 2]) == nil, "a partial frame waits for more bytes")
        #expect(refusal([0x00, 0x00, 0x54]).contains("length 0"))
        #expect(refusal(frame(0x54, [UInt8](repeating: 1, count: 50))).contains("tick frame of 50 bytes"))
        #expect(refusal(frame(0x54, [UInt8](repeating: 9, count: Tick.wireSize))).contains("unknown kind 9"))
        #expect(refusal(frame(0x48, [0, 2, 1])).contains("a hello of 3 bytes ends inside"))
        #expect(refusal(frame(0x48, [0, 1] + [UInt8](repeating: 0, count: 32))).contains("protocol version 1"))
        #expect(refusal(frame(0x45, [1, 2, 3])).contains("an end frame of 3 bytes"))
        #expect(refusal(frame(0x41, [0, 0, 0, 1])).contains("a subscribed frame of 4 bytes"))
        #expect(refusal(frame(0x54, Array("{\"kind\":\"trade\"".utf8)), .json).contains("JSON tick that does not read"))
        #expect(refusal(frame(0x54, Array("{\"kind\":\"nope\"}".utf8)), .json).contains("not a tick kind"))
        #expect(refusal(frame(0x54, [0xFF, 0xFF, 0xFF]), .protobuf).contains("protobuf tick"))
        #expect(
            try read(frame(0x47, [0, 14, 0xFF, 0xFE]))?.frame == .goodbye(code: 14, reason: "\u{FFFD}\u{FFFD}"),
            "bad UTF-8 read lossily, not trapped on")
    }
}

/// The publisher's reading of what clients send: well-formed frames round trip; anything else is refused in words.
@Suite struct ClientFrameTests {
    func parse(_ bytes: [UInt8]) throws -> ClientFrame? {
        try bytes.withUnsafeBytes { raw in
            try ClientFrame.parse(type: raw[2], payload: UnsafeRawBufferPointer(rebasing: raw[3...]))
        }
    }

    func refusal(_ bytes: [UInt8]) -> String {
        do {
            _ = try parse(bytes)
            return "accepted"
        } catch { return "\(error)" }
    }

    @Test func framesRoundTrip() throws {
        let frames: [ClientFrame] = [
            .login(version: 2, encoding: 2, name: "risk-1"), .heartbeat,
            .subscribe(request: 1, kinds: [.trade, .quote], symbols: [Symbol("ZXA").raw, Symbol("AAPL").raw]),
            .subscribe(request: 2, kinds: .all, symbols: nil), .unsubscribe(request: 3, kinds: .quote, symbols: nil),
            .resume(request: 4, after: 1234, kinds: .status, symbols: [Symbol("MSFT").raw]),
        ]
        for f in frames { #expect(try parse(f.bytes) == f) }
        let most = ClientFrame.subscribe(
            request: 9, kinds: .all, symbols: Array(repeating: Symbol("ZZZZZZZZ").raw, count: ClientFrame.maxSymbolsPerFrame))
        #expect(most.bytes.count <= PublishProtocol.maxClientFrame)
        #expect(try parse([0, 1, 0x7A]) == nil, "an unknown type is for the caller to answer")
    }

    @Test func malformedFramesAreRefusedInWords() {
        #expect(refusal([0, 3, 0x4C, 0, 2]).contains("a login frame of 2 bytes ends inside its encoding"))
        #expect(refusal([0, 7, 0x4C, 0, 2, 1, 0, 90, 0x41]).contains("name of 90 bytes"))
        #expect(refusal([0, 8, 0x4C, 0, 2, 1, 0, 1, 0x41, 0x41]).contains("1 bytes after its last field"))
        #expect(refusal([0, 9, 0x53, 0, 0, 0, 1, 0x20, 0, 0, 0]).contains("unknown kinds"))
        #expect(refusal([0, 9, 0x53, 0, 0, 0, 1, 1, 1, 0, 1]).contains("for every symbol also lists 1"))
        #expect(refusal([0, 9, 0x53, 0, 0, 0, 1, 1, 0, 0, 2] + Array("ZXA     ".utf8)).contains("ends inside its symbols"))
        #expect(
            refusal([0, 17, 0x53, 0, 0, 0, 1, 1, 0, 0, 1] + [0x41, 0, 0, 0, 0, 0, 0, 0]).contains("not printable ASCII"))
        #expect(refusal([0, 5, 0x52, 0, 0, 0, 1]).contains("a resume frame of 4 bytes ends inside its sequence"))
    }
}
