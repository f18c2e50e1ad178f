import COpenSSL
import CUV
import DSICore

/// One subscriber connection on the publisher's loop: a libuv TCP handle and an OpenSSL session over memory BIOs
/// (libuv moves the bytes; OpenSSL only encrypts and decrypts them), and what the subscriber asked for.
final class TLSSession {
    enum State {
        /// TCP accepted, TLS handshake under way.
        case handshaking
        /// Handshake done, waiting for the login frame.
        case loggingIn
        /// Logged in: may subscribe, receives what it subscribed to.
        case ready
        /// Being closed; its memory goes when libuv's close callback runs.
        case closing
    }

    let tcp: UnsafeMutablePointer<uv_tcp_t>
    let ssl: OpaquePointer
    /// Ciphertext from the network, for OpenSSL to read.
    let networkIn: OpaquePointer
    /// Ciphertext OpenSSL wrote, for libuv to send.
    let networkOut: OpaquePointer
    var state = State.handshaking
    /// The client's address and port (nil when the kernel could not say).
    var endpoint: IPv4Endpoint? = nil
    /// The client as log lines name it: its login name once known, and its address.
    var peer: String { name.isEmpty ? address4 : "\(name.debugDescription) (\(address4))" }
    private var address4: String { endpoint?.description ?? "?" }
    /// The client's IPv4 address (held against the per-address limit).
    var address: UInt32 { endpoint?.address.value ?? 0 }
    /// Bytes handed to libuv that it has not written yet: the subscriber's backlog.
    var queuedBytes = 0
    /// When the connection was accepted, its handshake finished (monotonic ns).
    var acceptedAt = Clock.monotonicNanos()
    var establishedAt: UInt64 = 0
    /// When the subscriber last sent a frame and the publisher last sent one to it (monotonic ns).
    var lastHeard: UInt64 = 0
    var lastSent: UInt64 = 0
    var ticksSent: UInt64 = 0

    /// Who the client is by its certificate (mutual TLS), and what it may take (nil: everything).
    var identity: ClientIdentity? = nil
    var entitlement: TickSelection? = nil
    /// From the login: the client's name and how it wants ticks.
    var name = ""
    var encoding = PublishProtocol.Encoding.binary
    /// What it subscribed to; empty until its first subscribe.
    var selection = TickSelection()
    /// Whether it takes every tick in binary and so gets each batch whole (`SubscriptionIndex.firehose`).
    var isFirehose = false
    /// Whether it has ever subscribed (a resume is allowed only before).
    var hasSubscribed = false
    /// While it resumes from the journal: the next stream sequence to send it (it is not in the index until caught
    /// up, so the live stream does not overtake the replay).
    var catchUpNext: UInt64? = nil
    /// Behind under the conflate policy: since when, and each symbol's latest quote held back (by topic).
    var conflating = false
    var behindSince: UInt64 = 0
    var heldQuotes: [Int: Tick] = [:]
    /// Per-subscriber counters: quotes it did not get because a later one replaced them.
    var quotesConflated: UInt64 = 0
    /// Its frames per second.
    var requests: TokenBucket
    /// Decrypted bytes of a client frame not yet complete.
    var inbound: [UInt8] = []

    /// Frames built for it during a batch, written to TLS at the batch's end (or when full).
    let pending: UnsafeMutableRawPointer
    var pendingCount = 0
    static let pendingCapacity = 64 << 10

    init?(context: TLSContext, tcp: UnsafeMutablePointer<uv_tcp_t>, limits: SubscriberLimits) {
        guard let ssl = SSL_new(context.ctx) else { return nil }
        guard let rbio = BIO_new(BIO_s_mem()), let wbio = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            return nil
        }
        SSL_set_bio(ssl, rbio, wbio)  // the SSL object owns both BIOs from here
        SSL_set_accept_state(ssl)
        self.ssl = ssl
        self.tcp = tcp
        networkIn = rbio
        networkOut = wbio
        requests = TokenBucket(rate: limits.framesPerSecond, burst: limits.burst)
        pending = .allocate(byteCount: Self.pendingCapacity, alignment: 64)
    }

    deinit {
        SSL_free(ssl)
        pending.deallocate()
    }

    var stream: UnsafeMutablePointer<uv_stream_t> { UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_stream_t.self) }
}
