import CDSIShims
import COpenSSL
import Glibc

/// Certificates for a quick start with mutual TLS (`dsi certs`): a CA, a server certificate for `localhost` and
/// `127.0.0.1`, and client certificates whose subject is `CN=NAME`, each EC P-256 signed with SHA-256, PEM files.
public enum Certificates {
    /// Writes `ca.pem`, `ca-key.pem`, `server.pem`, `server-key.pem` and `NAME.pem`, `NAME-key.pem` for each client
    /// into `directory`; returns the paths written.
    public static func quickStart(directory: String, clients: [String], days: Int = 365) throws -> [String] {
        try Journal.makeDirectory(directory)
        let caKey = try newKey()
        defer { EVP_PKEY_free(caKey) }
        let ca = try certificate(
            commonName: "DSI quick-start CA", key: caKey, issuer: nil, issuerKey: caKey, days: days,
            extensions: [
                (NID_basic_constraints, "critical,CA:TRUE"), (NID_key_usage, "critical,keyCertSign,cRLSign"),
                (NID_subject_key_identifier, "hash"),
            ])
        defer { X509_free(ca) }
        var written: [String] = []
        try write(key: caKey, to: "\(directory)/ca-key.pem")
        try write(certificate: ca, to: "\(directory)/ca.pem")
        written += ["\(directory)/ca.pem", "\(directory)/ca-key.pem"]
        let leaves: [(String, String, String)] =
            [("server", "localhost", "serverAuth")] + clients.map { ($0, $0, "clientAuth") }
        for (file, commonName, usage) in leaves {
            let key = try newKey()
            defer { EVP_PKEY_free(key) }
            var extensions: [(Int32, String)] = [
                (NID_basic_constraints, "critical,CA:FALSE"), (NID_key_usage, "critical,digitalSignature"),
                (NID_ext_key_usage, usage), (NID_subject_key_identifier, "hash"),
                (NID_authority_key_identifier, "keyid:always"),
            ]
            if usage == "serverAuth" { extensions.append((NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1")) }
            let leaf = try certificate(
                commonName: commonName, key: key, issuer: ca, issuerKey: caKey, days: days, extensions: extensions)
            defer { X509_free(leaf) }
            try write(key: key, to: "\(directory)/\(file)-key.pem")
            try write(certificate: leaf, to: "\(directory)/\(file).pem")
            written += ["\(directory)/\(file).pem", "\(directory)/\(file)-key.pem"]
        }
        return written
    }

    static func newKey() throws -> OpaquePointer { try OpenSSL.made("generating a P-256 key", CDSIShims_EVP_EC_gen_p256()) }

    /// A certificate for `key` named `CN=commonName`, signed by `issuerKey` (self-signed when `issuer` is nil).
    static func certificate(
        commonName: String, organisation: String? = nil, key: OpaquePointer, issuer: OpaquePointer?,
        issuerKey: OpaquePointer, days: Int, extensions: [(Int32, String)]
    ) throws -> OpaquePointer {
        let x509 = try OpenSSL.made("creating a certificate", X509_new())
        do {
            try OpenSSL.check("setting the certificate's version", X509_set_version(x509, 2))
            var serial: UInt64 = 0
            arc4random_buf(&serial, 8)
            try OpenSSL.check("setting the serial number", ASN1_INTEGER_set_uint64(X509_get_serialNumber(x509), serial >> 1))
            _ = try OpenSSL.made("setting the start of validity", X509_gmtime_adj(X509_getm_notBefore(x509), -60))
            _ = try OpenSSL.made("setting the end of validity", X509_gmtime_adj(X509_getm_notAfter(x509), days * 86_400))
            try OpenSSL.check("setting the public key", X509_set_pubkey(x509, key))
            let name = try OpenSSL.made("reading the subject name", X509_get_subject_name(x509))
            try OpenSSL.check("naming the subject", X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, commonName, -1, -1, 0))
            if let organisation {
                try OpenSSL.check(
                    "naming the organisation", X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, organisation, -1, -1, 0))
            }
            try OpenSSL.check(
                "setting the issuer", X509_set_issuer_name(x509, issuer.map { X509_get_subject_name($0) } ?? name))
            var context = X509V3_CTX()
            X509V3_set_ctx(&context, issuer ?? x509, x509, nil, nil, 0)
            for (nid, value) in extensions {
                let ext = try OpenSSL.made("making the extension \(value)", X509V3_EXT_conf_nid(nil, &context, nid, value))
                defer { X509_EXTENSION_free(ext) }
                try OpenSSL.check("adding the extension \(value)", X509_add_ext(x509, ext, -1))
            }
            try OpenSSL.checkPositive("signing the certificate", X509_sign(x509, issuerKey, EVP_sha256()))
            return x509
        } catch {
            X509_free(x509)
            throw error
        }
    }

    static func write(key: OpaquePointer, to path: String) throws {
        let oldMask = umask(0o077)  // the key readable by its owner only
        defer { umask(oldMask) }
        guard let file = fopen(path, "w") else { throw TLSError("writing \(path)", reason: String(cString: strerror(errno))) }
        let ok = PEM_write_PrivateKey(file, key, nil, nil, 0, nil, nil) == 1
        fclose(file)
        guard ok else { throw TLSError.openssl("writing \(path)") }
    }

    static func write(certificate: OpaquePointer, to path: String) throws {
        let oldMask = umask(0o022)  // readable by anyone: a certificate is public
        defer { umask(oldMask) }
        guard let file = fopen(path, "w") else { throw TLSError("writing \(path)", reason: String(cString: strerror(errno))) }
        let ok = PEM_write_X509(file, certificate) == 1
        fclose(file)
        guard ok else { throw TLSError.openssl("writing \(path)") }
    }

    /// The common name and DNS names of a peer's certificate: what entitlements are matched against.
    static func identity(of ssl: OpaquePointer) -> ClientIdentity? {
        guard let cert = CDSIShims_SSL_peer_certificate(ssl) else { return nil }
        defer { X509_free(cert) }
        var buffer = [CChar](repeating: 0, count: 256)
        let n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, &buffer, Int32(buffer.count))
        func text(_ c: [CChar]) -> String { String(decoding: c.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        let cn = n > 0 ? text(buffer) : ""
        var names: [String] = []
        for i in 0..<16 {
            guard CDSIShims_x509_dns_name(cert, Int32(i), &buffer, buffer.count) >= 0 else { break }
            names.append(text(buffer))
        }
        return ClientIdentity(commonName: cn, dnsNames: names)
    }
}

/// Who a client is, by its certificate.
public struct ClientIdentity: Sendable, Equatable {
    public var commonName: String
    public var dnsNames: [String]

    public init(commonName: String, dnsNames: [String]) {
        self.commonName = commonName
        self.dnsNames = dnsNames
    }

    public var description: String { "CN=\(commonName)" + (dnsNames.isEmpty ? "" : " (\(dnsNames.joined(separator: ", ")))") }
}
