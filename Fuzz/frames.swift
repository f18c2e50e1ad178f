// libFuzzer target: a publisher's byte stream, read frame by frame as `dsi subscribe` reads it.
import DSICore
import DSINet

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var offset = 0
    while offset < size {
        let rest = UnsafeRawBufferPointer(start: data + offset, count: size - offset)
        guard let (frame, consumed) = try? PublishFrameReader.next(in: rest) else { break }
        precondition(consumed >= 3 && consumed <= rest.count, "a frame is read within the bytes received")
        if case .tick(let tick) = frame { _ = tick.jsonLine }
        offset += consumed
    }
    return 0
}
