import DSICore
import DSIFeeds
import Testing

@Suite struct SessionGeneratorTests {
    @Test func sameSeedSameSession() throws {
        let a = try SessionGenerator.generate(.init(messages: 5_000, seed: 11))
        let b = try SessionGenerator.generate(.init(messages: 5_000, seed: 11))
        let c = try SessionGenerator.generate(.init(messages: 5_000, seed: 12))
        #expect(a.packets.map(\.payload) == b.packets.map(\.payload))
        #expect(a.packets.map(\.payload) != c.packets.map(\.payload))
        #expect(a.messageCount == 5_000)
    }

    @Test func allTypesAndConsistentLifecycles() throws {
        let session = try SessionGenerator.generate(.init(messages: 50_000, seed: 3))
        #expect(Set(session.typeCounts.keys) == Set(ITCHSchema.layouts.map { Character(Unicode.Scalar($0.type)) }))
        var processor = FeedProcessor(expectedOrders: 1 << 16)
        var sink = CollectingSink()
        for packet in session.packets {
            packet.payload.withUnsafeBytes {
                processor.process(packet: $0.baseAddress!, length: $0.count, receiveTime: packet.time, sink: &sink)
            }
        }
        let c = processor.counters
        #expect(c.messages.load == 50_000)
        #expect(c.unknownOrders.load == 0, "every order a message refers to was added and is still live")
        #expect(c.gaps.load == 0 && c.malformedPackets.load == 0 && c.shortMessages.load == 0)
        #expect(processor.sessionEnded)
        // Books never cross: bids stay below asks for every quote.
        #expect(
            sink.ticks.filter { $0.kind == .quote && $0.bidPrice != 0 && $0.askPrice != 0 && $0.bidPrice >= $0.askPrice }.isEmpty)
        // Packets stay under the MTU and are in time order.
        #expect(session.packets.allSatisfy { $0.payload.count <= 1400 })
        #expect(zip(session.packets, session.packets.dropFirst()).allSatisfy { $0.time <= $1.time })
    }

    @Test func refusesTooSmallSessions() {
        #expect(throws: SessionGenerator.GeneratorError.self) { try SessionGenerator.generate(.init(messages: 3, seed: 1)) }
    }
}
