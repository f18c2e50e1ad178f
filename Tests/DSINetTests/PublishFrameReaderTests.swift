import DSICore
import DSINet
import Testing

/// The subscriber's reading of the publish stream, fed what a broken or hostile publisher might send.
@Suite struct PublishFrameReaderTests {
    func frame(_ type: UInt8, _ payload: [UInt8]) -> [UInt8] {
        let length = payload.count + 1
        return [UInt8(length >> 8), UInt8(length & 0xFF), type] + payload
    }

    func read(_ bytes: [UInt8]) throws -> (frame: PublishFrameReader.Frame, consumed: Int)? {
        try bytes.withUnsafeBytes { try PublishFrameReader.next(in: $0) }
    }

    func refusal(_ bytes: [UInt8]) -> String {
        do {
            _ = try read(bytes)
            return "accepted"
        } catch { return "\(error)" }
    }

    @Test func goodFramesReadBack() throws {
        var tick = Tick(kind: .trade)
        tick.streamSeq = 7
        var wire = [UInt8](repeating: 0, count: Tick.wireSize)
        wire.withUnsafeMutableBytes { tick.write(to: $0.baseAddress!) }
        #expect(try read(frame(0x54, wire))?.frame == .tick(tick))
        #expect(
            try read(PublishProtocol.helloFrame(nextStreamSeq: 9))?.frame == .hello(version: 1, tickSize: 112, nextStreamSeq: 9))
        #expect(try read(PublishProtocol.endFrame(lastStreamSeq: 5))?.frame == .end(lastStreamSeq: 5))
        #expect(try read(frame(0x5A, [1, 2, 3]))?.frame == .unknown(type: 0x5A), "a newer publisher's frame is skipped")
        #expect(try read(frame(0x5A, [1, 2, 3]))?.consumed == 6)
    }

    @Test func damagedFramesAreRefusedInWordsOrWaitedFor() throws {
        #expect(try read([0x00]) == nil && read([0x00, 0x10, 0x54, 1, 2]) == nil, "a partial frame waits for more bytes")
        #expect(refusal([0x00, 0x00, 0x54]).contains("length 0"))
        #expect(refusal(frame(0x54, [UInt8](repeating: 1, count: 50))).contains("tick frame of 50 bytes"))
        #expect(refusal(frame(0x54, [UInt8](repeating: 9, count: Tick.wireSize))).contains("unknown kind 9"))
        #expect(refusal(frame(0x48, [0, 1])).contains("a hello of 2 bytes"))
        #expect(refusal(frame(0x45, [1, 2, 3])).contains("an end frame of 3 bytes"))
        #expect(
            try read(frame(0x47, [0xFF, 0xFE]))?.frame == .goodbye("\u{FFFD}\u{FFFD}"), "bad UTF-8 read lossily, not trapped on")
    }
}
