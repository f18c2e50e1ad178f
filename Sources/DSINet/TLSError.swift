import CDSIShims

/// A TLS failure with OpenSSL's reason, naming what was being done ("loading certificate /etc/x.pem", ...).
public struct TLSError: Error, CustomStringConvertible {
    public let context: String
    public let reason: String

    public init(_ context: String, reason: String) {
        self.context = context
        self.reason = reason
    }

    /// Takes the reason from OpenSSL's error queue (and clears it).
    static func openssl(_ context: String) -> TLSError {
        var buffer = [CChar](repeating: 0, count: 256)
        CDSIShims_openssl_error(&buffer, buffer.count)
        return TLSError(context, reason: buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
    }

    public var description: String { "\(context): \(reason)" }
}
