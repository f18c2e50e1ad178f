// libFuzzer target: what a subscriber sends, cut into frames and parsed as the publisher does (length checked against
// the client frame limit first), then applied to a subscription as the publisher would.
import DSICore
import DSINet

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var offset = 0
    var selection = TickSelection()
    while size - offset >= PublishProtocol.headerSize {
        let length = Int(data[offset]) << 8 | Int(data[offset + 1])
        guard length >= 1, 2 + length <= PublishProtocol.maxClientFrame, size - offset >= 2 + length else { break }
        let payload = UnsafeRawBufferPointer(start: data + offset + 3, count: length - 1)
        guard let frame = try? ClientFrame.parse(type: data[offset + 2], payload: payload) else {
            offset += 2 + length
            continue
        }
        switch frame {
        case .subscribe(_, let kinds, let symbols), .resume(_, _, let kinds, let symbols):
            selection.add(kinds, symbols: symbols)
        case .unsubscribe(_, let kinds, let symbols):
            selection.remove(kinds, symbols: symbols)
        case .login, .heartbeat:
            break
        }
        // What was parsed encodes back to the same frame; a login's name, read lossily from bad UTF-8 (and cut to
        // 64 bytes), after that one normalisation.
        func reparse(_ f: ClientFrame) -> ClientFrame? {
            try? f.bytes.withUnsafeBytes { raw in
                try ClientFrame.parse(type: raw[2], payload: UnsafeRawBufferPointer(rebasing: raw[3...]))
            }
        }
        let once = reparse(frame)
        if case .login = frame {
            precondition(once != nil && reparse(once!) == once, "a login round-trips after normalising its name")
        } else {
            precondition(once == frame, "a parsed frame round-trips")
        }
        offset += 2 + length
    }
    var tick = Tick(kind: .trade)
    tick.stock = Symbol("ZXA")
    tick.stockLocate = 1
    _ = selection.admits(tick)
    return 0
}
