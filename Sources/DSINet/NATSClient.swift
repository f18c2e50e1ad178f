import CDSINats
import DSICore
import Glibc

/// A connection to a NATS cluster for the `nats` node (through the NATS C client): core publishes, or JetStream
/// publishes acknowledged asynchronously and sent again with their message id when a node is lost.
public final class NATSClient {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// What a publish did: taken, or not now (the caller keeps the tick and tries again: the client's buffer is full
    /// while it reconnects, or too many JetStream publishes await their acknowledgement).
    public enum Outcome { case taken, notNow }

    private let handle: OpaquePointer
    public let jetstream: Bool
    private var error = [CChar](repeating: 0, count: 512)

    /// Connects (and with `stream`, makes the stream on `subjects` if it does not exist, with `replicas`).
    public init(servers: [String], stream: String?, subjects: String, replicas: Int) throws {
        var message = [CChar](repeating: 0, count: 512)
        var handle: OpaquePointer?
        let status = withCStrings(servers) { list in
            dsi_nats_open(&handle, list, Int32(servers.count), stream, subjects, Int32(replicas), &message, 512)
        }
        guard status == 0, let handle else {
            throw Failure(description: "NATS \(servers.joined(separator: ",")): \(text(message))")
        }
        self.handle = handle
        jetstream = stream != nil
    }

    deinit { dsi_nats_close(handle) }

    /// Publishes `bytes` on `subject` (NUL-terminated); `messageID` (JetStream) names it for the stream's duplicate
    /// window.
    @inline(__always)
    public func publish(subject: UnsafePointer<CChar>, _ bytes: UnsafeRawBufferPointer, messageID: UnsafePointer<CChar>?)
        throws -> Outcome
    {
        switch dsi_nats_publish(handle, subject, bytes.baseAddress, Int32(bytes.count), messageID, &error, 512) {
        case 0: return .taken
        case 1: return .notNow
        default: throw Failure(description: text(error))
        }
    }

    /// Sends again what JetStream did not acknowledge; how many.
    @discardableResult
    public func resend() -> Int { Int(dsi_nats_resend(handle)) }

    /// Waits until everything is with the server (core) or acknowledged (JetStream); false when time ran out.
    public func flush(timeoutMillis: Int32) -> Bool { dsi_nats_flush(handle, timeoutMillis) == 0 }

    public var isConnected: Bool { dsi_nats_connected(handle) == 1 }

    /// The server it is connected to now.
    public var server: String {
        var url = [CChar](repeating: 0, count: 256)
        dsi_nats_server(handle, &url, 256)
        return text(url)
    }

    public struct Counts: Sendable { public var published, resent, refused, disconnects, reconnects: UInt64 }

    /// Any thread may read them.
    public var counts: Counts {
        var c = dsi_nats_counts()
        dsi_nats_counts_get(handle, &c)
        return Counts(
            published: c.published, resent: c.resent, refused: c.refused, disconnects: c.disconnects, reconnects: c.reconnects)
    }
}

/// `body` with `strings` as an array of C strings that live for the call.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafeMutablePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    var pointers = copies.map { UnsafePointer($0) }
    return pointers.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
}

/// A NUL-terminated C string in `buffer` as a String.
private func text(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
