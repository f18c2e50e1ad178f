// libFuzzer target: a publisher's byte stream, read frame by frame as `dsi subscribe` reads it. The first byte picks
// the tick encoding the login asked for (binary, JSON, protobuf); the rest is the stream.
import DSICore
import DSINet

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let encoding = PublishProtocol.Encoding.allCases[Int(data[0]) % PublishProtocol.Encoding.allCases.count]
    var offset = 1
    var tracker = TopicTracker()
    while offset < size {
        let rest = UnsafeRawBufferPointer(start: data + offset, count: size - offset)
        guard let (frame, consumed) = try? PublishFrameReader.next(in: rest, encoding: encoding) else { break }
        precondition(consumed >= 3 && consumed <= rest.count, "a frame is read within the bytes received")
        if case .tick(let tick) = frame {
            _ = tick.jsonLine
            tracker.observe(tick)
        }
        offset += consumed
    }
    return 0
}
