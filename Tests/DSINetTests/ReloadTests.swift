import DSICore
import DSINet
import DSITestSupport
import Foundation
import Testing

/// Certificates rotated while running (`requestReload`, what SIGHUP does in `dsi run`): new connections get the new
/// certificate, a subscriber connected before keeps its session and its ticks, and a bad file is refused with the
/// running certificate kept.
@Suite(.serialized) struct ReloadTests {
    @Test func aRotatedCertificateServesNewClientsWithoutDroppingOldOnes() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        _ = try Certificates.quickStart(directory: dir.file("one"), clients: [])
        _ = try Certificates.quickStart(directory: dir.file("two"), clients: [])
        let harness = try PublisherHarness(certificate: dir.file("one/server.pem"), key: dir.file("one/server-key.pem"))
        harness.start()
        defer { harness.finish() }
        func options(trusting ca: String) -> TLSSubscriber.Options {
            var o = TLSSubscriber.Options(host: "127.0.0.1", port: harness.publisher.port)
            o.caFile = ca
            return o
        }
        let before = try TLSSubscriber(options(trusting: dir.file("one/ca.pem")))
        try before.subscribe(.all)
        #expect {
            try harness.publisher.requestReload(
                .init(
                    certificate: dir.file("two/server.pem"), key: dir.file("one/server-key.pem"), clientCA: nil, entitlements: nil
                ))
        } throws: { "\($0)".contains("does not match") }
        try harness.publisher.requestReload(
            .init(certificate: dir.file("two/server.pem"), key: dir.file("two/server-key.pem"), clientCA: nil, entitlements: nil))
        // Applied by the polling thread within its next timer check (100 ms).
        let deadline = Date().addingTimeInterval(5)
        var after: TLSSubscriber? = nil
        while after == nil && Date() < deadline {
            after = try? TLSSubscriber(options(trusting: dir.file("two/ca.pem")))
            if after == nil { usleep(50_000) }
        }
        let renewed = try #require(after, "a client trusting the new CA gets in")
        #expect { try TLSSubscriber(options(trusting: dir.file("one/ca.pem"))) } throws: {
            "\($0)".contains("certificate verification failed")
        }
        try renewed.subscribe(.all)
        harness.publish(100, first: 1)
        var old = 0, new = 0
        #expect(try before.run(limit: 100) { _ in old += 1 } == .count, "the session from before the rotation goes on")
        #expect(try renewed.run(limit: 100) { _ in new += 1 } == .count)
        #expect(old == 100 && new == 100)
    }
}
