import COpenSSL
import CUV
import DSICore

/// One subscriber connection on the publisher's loop: a libuv TCP handle and an OpenSSL session over memory BIOs
/// (libuv moves the bytes; OpenSSL only encrypts and decrypts them).
final class TLSSession {
    enum State { case handshaking, established, closing }

    let tcp: UnsafeMutablePointer<uv_tcp_t>
    let ssl: OpaquePointer
    /// Ciphertext from the network, for OpenSSL to read.
    let networkIn: OpaquePointer
    /// Ciphertext OpenSSL wrote, for libuv to send.
    let networkOut: OpaquePointer
    var state = State.handshaking
    /// The client's address and port (nil when the kernel could not say).
    var endpoint: IPv4Endpoint? = nil
    /// The client as log lines name it.
    var peer: String { endpoint?.description ?? "?" }
    /// The client's IPv4 address (held against the per-address limit).
    var address: UInt32 { endpoint?.address.value ?? 0 }
    /// Bytes handed to libuv that it has not written yet: the subscriber's backlog.
    var queuedBytes = 0
    /// When the connection was accepted (monotonic ns): a handshake still unfinished long after is given up.
    var acceptedAt = Clock.monotonicNanos()
    var ticksSent: UInt64 = 0

    init?(context: TLSContext, tcp: UnsafeMutablePointer<uv_tcp_t>) {
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
    }

    deinit { SSL_free(ssl) }

    var stream: UnsafeMutablePointer<uv_stream_t> { UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_stream_t.self) }
}
