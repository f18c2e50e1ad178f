import DSICore
import Synchronization

/// One subscriber as the publisher last saw it: what an operator asks about when a consumer says it is missing
/// ticks or falling behind.
public struct SubscriberSnapshot: Sendable, Equatable {
    /// The client's address and port, its login name, and its certificate's subject under mutual TLS.
    public var address: String
    public var name: String
    public var identity: String?
    public var encoding: PublishProtocol.Encoding
    /// Seconds since its handshake finished.
    public var connectedSeconds: Double
    /// What it takes: the kinds it takes for every symbol, and how many symbols it named.
    public var everySymbol: TickSelection.Kinds
    public var symbols: Int
    public var ticksSent: UInt64
    /// Bytes written for it that its socket has not taken yet: its backlog.
    public var queuedBytes: Int
    /// Behind under the conflate policy now, and the quotes it did not get because a later one replaced them.
    public var conflating: Bool
    public var quotesConflated: UInt64
    /// Still being sent the journal after a resume, not yet on the live stream.
    public var catchingUp: Bool
}

extension TLSPublisher {
    /// Every logged-in subscriber, at most a second old (taken by the publisher's thread as its timers run; any
    /// thread may read it). For metrics, an admin socket, or a test.
    public var subscriberSnapshots: [SubscriberSnapshot] { snapshots.withLock { $0 } }

    /// Takes the snapshot, at most once a second: on the publisher's thread, off the batch path.
    func takeSnapshot(now: UInt64) {
        guard now &- lastSnapshot >= 1_000_000_000 else { return }
        lastSnapshot = now
        let taken = sessions.values.filter { $0.state == .ready }.sorted { $0.establishedAt < $1.establishedAt }.map {
            SubscriberSnapshot(
                address: $0.endpoint?.description ?? "?", name: $0.name, identity: $0.identity?.description,
                encoding: $0.encoding, connectedSeconds: Double(now &- $0.establishedAt) / 1e9,
                everySymbol: $0.selection.everySymbol, symbols: $0.selection.symbols.count, ticksSent: $0.ticksSent,
                queuedBytes: $0.queuedBytes, conflating: $0.conflating, quotesConflated: $0.quotesConflated,
                catchingUp: $0.catchUpNext != nil)
        }
        snapshots.withLock { $0 = taken }
    }
}
