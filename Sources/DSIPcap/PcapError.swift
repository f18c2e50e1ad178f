/// Why a capture could not be opened, read or written. The message names the file and libpcap's reason.
public struct PcapError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
    public var description: String { "\(path): \(reason)" }
}
