import CDSIShims
import COpenSSL
import Glibc

/// Makes a self-signed certificate for the publisher when none is configured: EC P-256, SHA-256, valid one year,
/// for `localhost` and `127.0.0.1`, written as PEM (the key readable by its owner only).
public enum SelfSignedCertificate {
    public static func generate(certificate certPath: String, key keyPath: String, commonName: String = "localhost") throws {
        let key = try OpenSSL.made("generating a P-256 key", CDSIShims_EVP_EC_gen_p256())
        defer { EVP_PKEY_free(key) }
        let x509 = try OpenSSL.made("creating a certificate", X509_new())
        defer { X509_free(x509) }
        try OpenSSL.check("setting the certificate's version", X509_set_version(x509, 2))  // v3, for subjectAltName
        var serial: UInt64 = 0
        arc4random_buf(&serial, 8)
        try OpenSSL.check("setting the serial number", ASN1_INTEGER_set_uint64(X509_get_serialNumber(x509), serial >> 1))
        _ = try OpenSSL.made("setting the start of validity", X509_gmtime_adj(X509_getm_notBefore(x509), -60))
        _ = try OpenSSL.made("setting the end of validity", X509_gmtime_adj(X509_getm_notAfter(x509), 365 * 86_400))
        try OpenSSL.check("setting the public key", X509_set_pubkey(x509, key))
        let name = try OpenSSL.made("reading the subject name", X509_get_subject_name(x509))
        try OpenSSL.check("naming the subject", X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, commonName, -1, -1, 0))
        try OpenSSL.check(
            "naming the organisation", X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, "DSI self-signed", -1, -1, 0))
        try OpenSSL.check("setting the issuer", X509_set_issuer_name(x509, name))
        for (nid, value) in [(NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1"), (NID_basic_constraints, "critical,CA:TRUE")] {
            let ext = try OpenSSL.made("making the extension \(value)", X509V3_EXT_conf_nid(nil, nil, nid, value))
            defer { X509_EXTENSION_free(ext) }
            try OpenSSL.check("adding the extension \(value)", X509_add_ext(x509, ext, -1))
        }
        try OpenSSL.checkPositive("signing the certificate", X509_sign(x509, key, EVP_sha256()))

        let oldMask = umask(0o077)
        defer { umask(oldMask) }
        guard let keyFile = fopen(keyPath, "w") else {
            throw TLSError("writing \(keyPath)", reason: String(cString: strerror(errno)))
        }
        let keyOK = PEM_write_PrivateKey(keyFile, key, nil, nil, 0, nil, nil) == 1
        fclose(keyFile)
        guard keyOK else { throw TLSError.openssl("writing \(keyPath)") }
        umask(0o022)
        guard let certFile = fopen(certPath, "w") else {
            throw TLSError("writing \(certPath)", reason: String(cString: strerror(errno)))
        }
        let certOK = PEM_write_X509(certFile, x509) == 1
        fclose(certFile)
        guard certOK else { throw TLSError.openssl("writing \(certPath)") }
    }
}
