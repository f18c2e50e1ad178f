import DSICore
import DSIFeeds
import Testing

@Suite struct MoldUDP64Tests {
    @Test func parsesBuiltPackets() throws {
        let builder = MoldUDP64Builder(session: "000010059B")
        let messages = [try ITCHEncoder.message("D", locate: 1, timestamp: 1, [5]), try ITCHEncoder.message("S", locate: 0, timestamp: 2, ["Q"])]
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
        var bytes = MoldUDP64Builder(session: "X").packet(first: 1, messages: [try ITCHEncoder.message("D", locate: 1, timestamp: 1, [5])])
        bytes.removeLast()  // the block now runs past the end
        bytes.withUnsafeBytes { raw in
            #expect(MoldUDP64Packet(raw.baseAddress!, length: raw.count)?.blocksAreWellFormed == false)
            #expect(MoldUDP64Packet(raw.baseAddress!, length: 19) == nil, "shorter than the header")
        }
    }
}
