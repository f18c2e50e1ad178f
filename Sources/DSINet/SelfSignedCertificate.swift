import COpenSSL

/// Makes a self-signed certificate for the publisher when none is configured: EC P-256, SHA-256, valid one year,
/// for `localhost` and `127.0.0.1`, written as PEM (the key readable by its owner only). Built by the same code as
/// `dsi certs` (`Certificates`).
public enum SelfSignedCertificate {
    public static func generate(certificate certPath: String, key keyPath: String, commonName: String = "localhost") throws {
        let key = try Certificates.newKey()
        defer { EVP_PKEY_free(key) }
        let x509 = try Certificates.certificate(
            commonName: commonName, organisation: "DSI self-signed", key: key, issuer: nil, issuerKey: key, days: 365,
            extensions: [(NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1"), (NID_basic_constraints, "critical,CA:TRUE")])
        defer { X509_free(x509) }
        try Certificates.write(key: key, to: keyPath)
        try Certificates.write(certificate: x509, to: certPath)
    }
}
