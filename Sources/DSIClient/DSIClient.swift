import DSICore
import DSINet
import Dispatch

/// A subscriber of a DSI publisher for applications: connects, subscribes, and delivers ticks as an `AsyncSequence`,
/// reconnecting after a lost connection and resuming from the last tick it delivered, so the application sees each
/// tick once, in order, across disconnects (while the publisher's journal retains them).
///
/// ```swift
/// let client = DSIClient(.init(host: "127.0.0.1", port: 9443, selection: .init(symbols: ["AAPL"], kinds: .all)))
/// for try await tick in client.ticks() { … }
/// ```
public final class DSIClient: Sendable {
    public struct Options: Sendable {
        /// How to reach the publisher and present itself (TLS files, name, encoding).
        public var connection: TLSSubscriber.Options
        /// What to subscribe to.
        public var selection: TickSelection
        /// Start after this stream sequence (from the journal) instead of now with images.
        public var resumeAfter: UInt64? = nil
        /// Reconnect after a lost connection (a reset, a silent publisher, a restart); when false, the sequence ends.
        public var reconnect = true
        /// Give up reconnecting after this long without a connection (ns).
        public var reconnectTimeoutNanos: UInt64 = 30_000_000_000
        /// Treat the publisher as gone after this long without any frame (it sends heartbeats every second).
        public var silenceTimeoutNanos: UInt64 = 5_000_000_000

        public init(_ connection: TLSSubscriber.Options, selection: TickSelection = .all) {
            self.connection = connection
            self.selection = selection
        }
    }

    public let options: Options
    let connection: ClientConnection

    public init(_ options: Options) {
        self.options = options
        connection = ClientConnection(options)
    }

    /// The ticks, images first (flagged `Tick.Flags.image`), then updates. The sequence ends at the publisher's end
    /// of stream or when the task is cancelled; it throws when the publisher refuses the client (a certificate,
    /// entitlements, the protocol version) or cannot be reached within `reconnectTimeoutNanos`.
    public func ticks() -> TickStream { TickStream(connection: connection) }

    /// What the client has seen so far.
    public var statistics: Statistics { connection.statistics }

    public struct Statistics: Sendable, Equatable {
        public var ticks: UInt64 = 0
        public var images: UInt64 = 0
        /// Updates the topic sequences show were never delivered (0 unless resumption was not possible).
        public var missed: UInt64 = 0
        /// Quotes a conflating publisher dropped on purpose.
        public var conflated: UInt64 = 0
        /// Ticks received twice (a resume overlapping what arrived) and not delivered again.
        public var duplicatesDropped: UInt64 = 0
        public var connections: UInt64 = 0
        /// Reconnections that resumed from the journal, and those that could not (images were sent instead).
        public var resumed: UInt64 = 0
        public var resumeFailures: UInt64 = 0
        /// The stream sequence of the last update delivered.
        public var lastStreamSeq: UInt64 = 0
        /// The last refusal of a request (an error frame), if any.
        public var lastError: String? = nil
        public var tlsVersion = ""

        public init() {}
    }
}

/// Why the client stopped for good.
public struct DSIClientError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
