// libFuzzer target: bytes a client sends the metrics endpoint, fed to the request parser whole and in every
// two-piece split (as they may arrive over TCP). Whatever comes, the parser answers (a GET, a refusal, or "more"),
// agrees with itself across splits, and never reads past what it was given.
import DSIRuntime

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let whole = HTTPRequest.parse(bytes)
    if case .get(let path, _) = whole {
        precondition(path.hasPrefix("/") && !path.contains("?"), "a path without its query")
    }
    // Read in two pieces, the first decision is final: a parser that answered on a prefix must answer the same on
    // the whole (nothing after the header changes the request line).
    for cut in stride(from: 0, to: min(size, 64), by: 1) {
        let first = HTTPRequest.parse(Array(bytes[..<cut]))
        if first != .incomplete && cut <= HTTPRequest.maxBytes && size <= HTTPRequest.maxBytes {
            precondition(first == whole, "a prefix decided differently from the whole")
        }
    }
    return 0
}
