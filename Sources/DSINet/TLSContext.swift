import CDSIShims
import COpenSSL
import Glibc

/// OpenSSL contexts pinned to TLS 1.3: one for the publisher (certificate and key) and one for subscribers.
public final class TLSContext: @unchecked Sendable {
    // @unchecked Sendable: an SSL_CTX is safe to share once configured (OpenSSL locks its own reference counts).
    public let ctx: OpaquePointer

    private init(method: OpaquePointer?, what: String) throws {
        guard let ctx = SSL_CTX_new(method) else { throw TLSError.openssl("creating the \(what) TLS context") }
        self.ctx = ctx
        guard CDSIShims_SSL_CTX_tls13_only(ctx) == 1 else {
            // Every stored property is set: deinit frees the context.
            throw TLSError.openssl("restricting the \(what) TLS context to TLS 1.3")
        }
    }

    deinit { SSL_CTX_free(ctx) }

    /// A server context with a PEM certificate chain and its private key; both files are checked now, so a bad path or
    /// a key that does not match fails at start with the file's name.
    /// With `clientCA`, mutual TLS: a client must present a certificate that CA signed, or the handshake fails.
    public static func server(certificate: String, key: String, clientCA: String? = nil) throws -> TLSContext {
        let context = try TLSContext(method: TLS_server_method(), what: "publisher")
        try context.use(certificate: certificate, key: key)
        if let clientCA {
            guard access(clientCA, R_OK) == 0 else {
                throw TLSError("client CA file \(clientCA)", reason: String(cString: strerror(errno)))
            }
            guard SSL_CTX_load_verify_locations(context.ctx, clientCA, nil) == 1 else {
                throw TLSError.openssl("loading client CA file \(clientCA)")
            }
            guard let names = SSL_load_client_CA_file(clientCA) else {
                throw TLSError.openssl("reading the CA names in \(clientCA)")
            }
            SSL_CTX_set_client_CA_list(context.ctx, names)  // the context owns the list from here
            SSL_CTX_set_verify(context.ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
        }
        return context
    }

    /// Loads a PEM certificate chain and its private key; a bad path or a key that does not match fails with the
    /// file's name.
    func use(certificate: String, key: String) throws {
        guard access(certificate, R_OK) == 0 else {
            throw TLSError("certificate \(certificate)", reason: String(cString: strerror(errno)))
        }
        guard access(key, R_OK) == 0 else { throw TLSError("private key \(key)", reason: String(cString: strerror(errno))) }
        guard SSL_CTX_use_certificate_chain_file(ctx, certificate) == 1 else {
            throw TLSError.openssl("loading certificate \(certificate)")
        }
        guard SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1 else {
            let error = TLSError.openssl("loading private key \(key)")
            // OpenSSL checks the pair while loading the key; say so in words a user recognises.
            if error.reason.contains("key values mismatch") {
                throw TLSError("private key \(key) does not match certificate \(certificate)", reason: error.reason)
            }
            throw error
        }
        guard SSL_CTX_check_private_key(ctx) == 1 else {
            throw TLSError.openssl("private key \(key) does not match certificate \(certificate)")
        }
    }

    /// A client context: verifies the server against `caFile`, or (with `insecure`) not at all; presents
    /// `certificate` (with `key`) when the server asks for one.
    public static func client(caFile: String?, insecure: Bool, certificate: String? = nil, key: String? = nil) throws
        -> TLSContext
    {
        let context = try TLSContext(method: TLS_client_method(), what: "subscriber")
        if let certificate {
            guard let key else { throw TLSError("client certificate \(certificate)", reason: "no key file given with it") }
            try context.use(certificate: certificate, key: key)
        }
        if insecure {
            SSL_CTX_set_verify(context.ctx, SSL_VERIFY_NONE, nil)
        } else {
            if let caFile {
                guard access(caFile, R_OK) == 0 else {
                    throw TLSError("CA file \(caFile)", reason: String(cString: strerror(errno)))
                }
                guard SSL_CTX_load_verify_locations(context.ctx, caFile, nil) == 1 else {
                    throw TLSError.openssl("loading CA file \(caFile)")
                }
            } else {
                guard SSL_CTX_set_default_verify_paths(context.ctx) == 1 else {
                    throw TLSError.openssl("loading the system's CA certificates")
                }
            }
            SSL_CTX_set_verify(context.ctx, SSL_VERIFY_PEER, nil)
        }
        return context
    }
}
