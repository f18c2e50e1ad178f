/// Why a capture could not be opened, read or written. The message names the file and libpcap's reason.
public struct PcapError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public init(path: String, reason: String) {
        self.path = path
        // libpcap's messages often start with the path already.
        self.reason = reason.hasPrefix(path + ": ") ? String(reason.dropFirst(path.count + 2)) : reason
    }
    public var description: String { "\(path): \(reason)" }
}
