/// Why a capture could not be opened, read or written. The message names the file and libpcap's reason.
public struct PcapError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    /// libpcap's message about `path` (after `context`), which often names the path already: it is said once.
    init(path: String, libpcap message: String, context: String = "") {
        self.init(
            path: path, reason: context + (message.hasPrefix(path + ": ") ? String(message.dropFirst(path.count + 2)) : message))
    }

    /// The message libpcap left in `errbuf`.
    init(path: String, errbuf: [CChar]) {
        self.init(path: path, libpcap: errbuf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
    }
    public var description: String { "\(path): \(reason)" }
}
