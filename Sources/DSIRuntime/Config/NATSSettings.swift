import DSICore

/// A `nats` node's settings, checked: where it connects, how it names subjects, what it sends, and whether through
/// JetStream.
public struct NATSSettings: Sendable, Equatable {
    public enum Encoding: String, Sendable { case json, binary }

    /// `nats://HOST:PORT` URLs of the cluster's servers (the client finds the rest from them).
    public var servers: [String]
    /// Subjects are `PREFIX.FEED.KIND.SYMBOL`.
    public var subjectPrefix: String
    public var encoding: Encoding
    /// The JetStream stream ticks are published to (made, on `PREFIX.>`, if it does not exist); nil: core NATS.
    public var jetstream: String?

    public init(servers: [String], subjectPrefix: String = "dsi", encoding: Encoding = .json, jetstream: String? = nil) {
        self.servers = servers
        self.subjectPrefix = subjectPrefix
        self.encoding = encoding
        self.jetstream = jetstream
    }

    static func validate(_ o: NodeOptions, key: String, fail: (String, String) -> ConfigError) throws -> NATSSettings {
        guard let servers = o.servers, !servers.isEmpty else {
            throw fail("\(key).servers", "a nats node needs servers: [nats://HOST:PORT, ...]")
        }
        for server in servers {
            let rest = server.hasPrefix("nats://") ? server.dropFirst(7) : ""
            let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, let port = UInt16(parts[1]), port != 0,
                parts[0].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" })
            else { throw fail("\(key).servers", "'\(server)' is not nats://HOST:PORT") }
        }
        // Subject tokens: no wildcards, spaces or empty tokens, which would change what a subscriber's wildcard means.
        func isToken(_ s: Substring) -> Bool {
            !s.isEmpty
                && s.unicodeScalars.allSatisfy {
                    $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == "_")
                }
        }
        let prefix = o.subjectPrefix ?? "dsi"
        guard prefix.split(separator: ".", omittingEmptySubsequences: false).allSatisfy(isToken) else {
            throw fail(
                "\(key).subjectPrefix", "'\(prefix)' is not a subject prefix: tokens of letters, digits, - and _, joined by dots")
        }
        if let stream = o.jetstream, !isToken(Substring(stream)) {
            throw fail("\(key).jetstream", "'\(stream)' is not a stream name: letters, digits, - and _")
        }
        return NATSSettings(
            servers: servers, subjectPrefix: prefix, encoding: Encoding(rawValue: o.encoding ?? "json")!, jetstream: o.jetstream)
    }
}
