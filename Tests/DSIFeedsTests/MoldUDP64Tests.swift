import DSICore
import DSIFeeds
import Testing

@Suite struct MoldUDP64Tests {
    @Test func parsesBuiltPackets() throws {
        let builder = MoldUDP64Builder(session: "000010059B")
        let messages = [
            try ITCHEncoder.message("D", locate: 1, timestamp: 1, [5]),
            try ITCHEncoder.message("S", locate: 0, timestamp: 2, ["Q"]),
        ]
        let bytes = builder.packet(first: 1001, messages: messages)
        #expect(bytes.count == 20 + 2 + 19 + 2 + 12)
        try bytes.withUnsafeBytes { raw in
            let packet = try #require(MoldUDP64Packet(raw.baseAddress!, length: raw.count))
            #expect(packet.session == "000010059B")
            #expect(packet.sequence == 1001)
            #expect(packet.messageCount == 2)
            #expect(packet.blocksAreWellFormed)
            var lengths: [Int] = []
            packet.forEachMessage { _, _, length in lengths.append(length) }
            #expect(lengths == [19, 12])
        }
    }

    @Test func heartbeatAndEndOfSession() {
        let builder = MoldUDP64Builder(session: "X")
        builder.heartbeat(next: 7).withUnsafeBytes { raw in
            let p = MoldUDP64Packet(raw.baseAddress!, length: raw.count)!
            #expect(p.isHeartbeat && p.messageCount == 0 && p.sequence == 7)
        }
        builder.endOfSession(next: 9).withUnsafeBytes { raw in
            let p = MoldUDP64Packet(raw.baseAddress!, length: raw.count)!
            #expect(p.isEndOfSession && p.messageCount == 0)
        }
        #expect(builder.request(first: 5, count: 3).count == 20)
    }

    @Test func malformedPacketsAreDetected() throws {
        var bytes = MoldUDP64Builder(session: "X").packet(
            first: 1, messages: [try ITCHEncoder.message("D", locate: 1, timestamp: 1, [5])])
        bytes.removeLast()  // the block now runs past the end
        bytes.withUnsafeBytes { raw in
            #expect(MoldUDP64Packet(raw.baseAddress!, length: raw.count)?.blocksAreWellFormed == false)
            #expect(MoldUDP64Packet(raw.baseAddress!, length: 19) == nil, "shorter than the header")
        }
    }

    @Test func requestsAreEncodedOnceAndReadBackExactly() throws {
        let key = try #require(SessionKey("000010059B"))
        let built = MoldUDP64Builder(session: "000010059B").request(first: 123_456, count: 64)
        var written = [UInt8](repeating: 0, count: MoldUDP64Request.size)
        written.withUnsafeMutableBytes {
            MoldUDP64Builder.writeRequest(session: key, first: 123_456, count: 64, to: $0.baseAddress!)
        }
        #expect(built == written, "the builder and the client's in-place writer agree")
        #expect(written.withUnsafeBytes { MoldUDP64Request($0) } == MoldUDP64Request(session: key, first: 123_456, count: 64))
        // Anything but exactly 20 bytes asking for at least one message from sequence 1 on is not a request.
        #expect(Array(written.prefix(19)).withUnsafeBytes { MoldUDP64Request($0) } == nil)
        #expect((written + [0]).withUnsafeBytes { MoldUDP64Request($0) } == nil)
        #expect(MoldUDP64Builder(session: "X").request(first: 0, count: 5).withUnsafeBytes { MoldUDP64Request($0) } == nil)
        #expect(MoldUDP64Builder(session: "X").request(first: 5, count: 0).withUnsafeBytes { MoldUDP64Request($0) } == nil)
    }

    @Test func sessionNamesReadAsTextWithAnythingUnprintableEscaped() throws {
        #expect(SessionKey("DSI0000001")?.description == "DSI0000001")
        #expect(SessionKey("AB")?.description == "AB", "space padded on the wire, trimmed in text")
        #expect(SessionKey("TOO-LONG-NAME") == nil && SessionKey("tab\there") == nil)
        let raw = SessionKey(high: 0x00FF_4142_0000_0000, low: 0x2020)
        #expect(raw.description.contains("\\x0") && raw.description.contains("\\xff"), "\(raw)")
    }
}
