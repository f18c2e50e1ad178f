import DSIRuntime
import Testing

/// The metrics endpoint's request parser: what a GET is, and the answer to everything else.
@Suite struct HTTPRequestTests {
    func parse(_ text: String) -> HTTPRequest.Parsed { HTTPRequest.parse(Array(text.utf8)) }

    @Test func getsAndHeads() {
        #expect(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n") == .get(path: "/metrics", head: false))
        #expect(parse("HEAD /readyz?verbose=1 HTTP/1.0\n\n") == .get(path: "/readyz", head: true))
        #expect(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n") == .incomplete, "the header has not ended")
        #expect(parse("") == .incomplete)
    }

    @Test func everythingElseIsRefusedWithItsStatus() {
        #expect(parse("POST /metrics HTTP/1.1\r\n\r\n") == .refuse(status: 405, reason: "Method Not Allowed"))
        #expect(parse("GET metrics HTTP/1.1\r\n\r\n") == .refuse(status: 400, reason: "Bad Request"))
        #expect(parse("GET /metrics SPDY/3\r\n\r\n") == .refuse(status: 400, reason: "Bad Request"))
        #expect(parse("GET /metrics\r\n\r\n") == .refuse(status: 400, reason: "Bad Request"))
        #expect(parse("GET /m\u{7}x HTTP/1.1\r\n\r\n") == .refuse(status: 400, reason: "Bad Request"))
        #expect(
            HTTPRequest.parse([0x16, 0x03, 0x01, 0x0D, 0x0A, 0x0D, 0x0A]) == .refuse(status: 400, reason: "Bad Request"),
            "a TLS hello sent to the plain port")
        let flood = Array("GET /metrics HTTP/1.1\r\nX: ".utf8) + Array(repeating: UInt8(ascii: "a"), count: HTTPRequest.maxBytes)
        #expect(HTTPRequest.parse(flood) == .refuse(status: 431, reason: "Request Header Fields Too Large"))
    }

    @Test func responsesCarryTheirLengthAndCloseTheConnection() {
        let r = String(
            decoding: HTTPRequest.response(status: 200, reason: "OK", contentType: "text/plain", body: Array("ok\n".utf8)),
            as: UTF8.self)
        #expect(r == "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
        let head = HTTPRequest.response(
            status: 200, reason: "OK", contentType: "text/plain", body: Array("ok\n".utf8), head: true)
        #expect(String(decoding: head, as: UTF8.self).hasSuffix("Content-Length: 3\r\nConnection: close\r\n\r\n"))
    }
}
