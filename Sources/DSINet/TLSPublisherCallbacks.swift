import CUV
import DSICore

// libuv callbacks: C function pointers, so they find their Swift objects through the handles' `data` fields.

func onConnection(_ server: UnsafeMutablePointer<uv_stream_t>?, _ status: Int32) {
    guard let server, status == 0 else { return }
    Unmanaged<TLSPublisher>.fromOpaque(server.pointee.data).takeUnretainedValue().accept()
}

func onAlloc(_ handle: UnsafeMutablePointer<uv_handle_t>?, _ suggested: Int, _ buf: UnsafeMutablePointer<uv_buf_t>?) {
    guard let handle, let buf else { return }
    let loopData = handle.pointee.loop.pointee.data
    let publisher = Unmanaged<TLSPublisher>.fromOpaque(loopData!).takeUnretainedValue()
    buf.pointee = uv_buf_init(publisher.readBuffer.assumingMemoryBound(to: CChar.self), UInt32(TLSPublisher.bufferSize))
}

func onRead(_ stream: UnsafeMutablePointer<uv_stream_t>?, _ nread: Int, _ buf: UnsafePointer<uv_buf_t>?) {
    guard let stream else { return }
    let session = Unmanaged<TLSSession>.fromOpaque(stream.pointee.data).takeUnretainedValue()
    let publisher = Unmanaged<TLSPublisher>.fromOpaque(stream.pointee.loop.pointee.data!).takeUnretainedValue()
    if nread < 0 {
        publisher.close(session, reason: nil)  // EOF or a reset: the subscriber left
    } else if nread > 0, let base = buf?.pointee.base {
        publisher.received(session, bytes: base, count: nread)
    }
}

func onWriteDone(_ request: UnsafeMutablePointer<uv_write_t>?, _ status: Int32) {
    guard let request else { return }
    let session = Unmanaged<TLSSession>.fromOpaque(request.pointee.data).takeUnretainedValue()
    let block = UnsafeMutableRawPointer(request) - WriteBlock.requestOffset
    session.queuedBytes -= block.load(as: Int.self)
    block.deallocate()
}

func onSessionClosed(_ handle: UnsafeMutablePointer<uv_handle_t>?) {
    guard let handle else { return }
    let tcp = UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_tcp_t.self)
    let publisher = Unmanaged<TLSPublisher>.fromOpaque(handle.pointee.loop.pointee.data!).takeUnretainedValue()
    publisher.sessionClosed(tcp)
}

/// A queued write's allocation: its byte count, the libuv request, then the bytes.
enum WriteBlock {
    static let requestOffset = 16
}
