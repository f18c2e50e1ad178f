/// The little HTTP/1.x a metrics endpoint needs: the request line of a GET, read from at most `maxBytes` of header.
/// Anything else is answered with the status that says why, never a crash: the endpoint faces whatever reaches the
/// port (scanners, a tired operator's `nc`, a broken proxy).
public enum HTTPRequest {
    /// The most header bytes read before answering 431.
    public static let maxBytes = 8_192

    public enum Parsed: Equatable, Sendable {
        /// A GET (or HEAD) of `path` (query string dropped).
        case get(path: String, head: Bool)
        /// Not answerable: the status and its reason phrase.
        case refuse(status: Int, reason: String)
        /// The header has not ended yet: read more.
        case incomplete
    }

    /// Reads the request line out of the bytes received so far.
    public static func parse(_ bytes: [UInt8]) -> Parsed {
        guard let end = headerEnd(bytes) else {
            return bytes.count >= maxBytes ? .refuse(status: 431, reason: "Request Header Fields Too Large") : .incomplete
        }
        guard let lineEnd = bytes[..<end].firstIndex(of: UInt8(ascii: "\r")) ?? bytes[..<end].firstIndex(of: UInt8(ascii: "\n"))
        else { return .refuse(status: 400, reason: "Bad Request") }
        // Request line: METHOD SP TARGET SP HTTP/1.x, printable ASCII only.
        let line = bytes[..<lineEnd]
        guard line.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return .refuse(status: 400, reason: "Bad Request") }
        let parts = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count == 3, let version = String(bytes: parts[2], encoding: .ascii), version.hasPrefix("HTTP/1."),
            let method = String(bytes: parts[0], encoding: .ascii), let target = String(bytes: parts[1], encoding: .ascii),
            target.hasPrefix("/")
        else { return .refuse(status: 400, reason: "Bad Request") }
        guard method == "GET" || method == "HEAD" else { return .refuse(status: 405, reason: "Method Not Allowed") }
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? target
        return .get(path: path, head: method == "HEAD")
    }

    /// Where the header ends (the index after CRLF CRLF, or LF LF from a lenient client), if it has.
    static func headerEnd(_ bytes: [UInt8]) -> Int? {
        let limit = min(bytes.count, maxBytes)
        var i = 0
        while i < limit {
            if bytes[i] == UInt8(ascii: "\n") {
                if i + 1 < limit && bytes[i + 1] == UInt8(ascii: "\n") { return i + 2 }
                if i + 2 < limit && bytes[i + 1] == UInt8(ascii: "\r") && bytes[i + 2] == UInt8(ascii: "\n") { return i + 3 }
            }
            i += 1
        }
        return nil
    }

    /// A whole response: status line, content type and length, no keep-alive.
    public static func response(status: Int, reason: String, contentType: String, body: [UInt8], head: Bool = false) -> [UInt8] {
        let header =
            "HTTP/1.1 \(status) \(reason)\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n"
            + "Connection: close\r\n\r\n"
        return Array(header.utf8) + (head ? [] : body)
    }
}
