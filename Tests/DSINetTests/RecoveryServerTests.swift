import DSICore
import DSINet
import DSITestSupport
import Foundation
import Testing

/// The re-request server `dsi replay --recovery-port` runs, against its own client and against garbage: a malformed
/// request, one for another session, one for nothing, a flood beyond its rate. It answers what it should, refuses the
/// rest (counted), and goes on serving.
@Suite(.serialized) struct RecoveryServerTests {
    final class Stop: @unchecked Sendable { var value = false }

    @Test func refusesGarbageAndAnswersTheRealClient() throws {
        let key = try #require(SessionKey("RSTEST0001"))
        let store = RecoveryServer.Store()
        for seq in UInt64(1)...200 {
            store.add(session: key, seq: seq, message: [UInt8](repeating: UInt8(seq & 0xFF), count: 30))
        }
        let server = try RecoveryServer(listen: IPv4Endpoint("127.0.0.1:0")!, store: store)
        server.maxRequestsPerSecond = 50  // bursts of 5
        let stop = Stop()
        let serving = BackgroundThread { server.serve { stop.value } }
        defer {
            stop.value = true
            serving.join()
        }
        let endpoint = IPv4Endpoint(address: IPv4Address(0x7F00_0001), port: server.port)
        let sender = try MulticastSender()
        let good = MoldUDP64Builder(session: "RSTEST0001")
        for garbage in [
            [UInt8](repeating: 0xFF, count: 3), good.request(first: 1, count: 1) + [0],
            MoldUDP64Builder(session: "OTHER").request(first: 1, count: 5), good.request(first: 0, count: 5),
            good.request(first: 7, count: 0),
        ] {
            try sender.send(garbage, to: endpoint)
        }
        let deadline = Date().addingTimeInterval(5)
        while server.refused.load < 5 && Date() < deadline { usleep(10_000) }
        #expect(server.refused.load == 5 && server.requests.load == 0)

        let client = try RecoveryClient(server: endpoint)
        let ring = SPSCRing(capacity: 64, slotSize: 2048)
        client.request(session: key, first: 10, count: 100)
        var replies = 0
        while replies == 0 && Date() < deadline { replies += try client.receive(into: ring); usleep(1_000) }
        #expect(replies == 1)
        let slot = ring.consumerSlot(0)
        let packet = try #require(MoldUDP64Packet(PacketSlot.payload(slot), length: PacketSlot.length(slot)))
        #expect(packet.sessionKey == key && packet.sequence == 10)
        #expect(packet.messageCount > 1 && packet.messageCount < 100, "as many as fit in one datagram")
        #expect(packet.blocksAreWellFormed)

        // A flood beyond the rate is refused, not queued without bound; the server stays up.
        for _ in 0..<200 { client.request(session: key, first: 1, count: 1) }
        let flooded = Date().addingTimeInterval(2)
        while server.requests.load + server.rateLimited.load < 201 && Date() < flooded { usleep(10_000) }
        #expect(server.rateLimited.load > 100, "\(server.rateLimited.load) over the rate")
    }
}
