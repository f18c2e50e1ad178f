import DSINet
import Foundation
import Logging

/// Finds the publisher's certificate: the configured files, or a self-signed pair made once in the state directory
/// and reused after.
enum CertificateStore {
    static func resolve(config: ValidatedConfig, logger: Logger) throws -> (certificate: String, key: String) {
        if let certificate = config.certificate, let key = config.key { return (certificate, key) }
        let directory = config.stateDirectory + "/tls"
        let certificate = directory + "/publisher-cert.pem", key = directory + "/publisher-key.pem"
        let files = FileManager.default
        if files.fileExists(atPath: certificate) && files.fileExists(atPath: key) {
            logger.info("using the self-signed certificate \(certificate)")
            return (certificate, key)
        }
        do {
            try files.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw TLSError("creating \(directory)", reason: "\(error.localizedDescription)")
        }
        try SelfSignedCertificate.generate(certificate: certificate, key: key)
        logger.notice(
            "no certificate configured: made a self-signed one at \(certificate) (key \(key)); subscribers can trust it with --ca \(certificate)"
        )
        return (certificate, key)
    }
}
