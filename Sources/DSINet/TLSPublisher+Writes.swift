import COpenSSL
import CUV
import DSICore

/// Write queues and slow consumers: what OpenSSL produced goes to the socket, or to a bounded queue when the socket
/// is full.
extension TLSPublisher {
    /// Sends one frame to a session now (hello, subscribed, images, heartbeats, errors), outside any batch.
    func send(_ frame: ServerFrame, to session: TLSSession) {
        send(bytes: frame.bytes, to: session)
    }

    func send(bytes: [UInt8], to session: TLSSession) {
        guard session.state == .ready || session.state == .loggingIn, !bytes.isEmpty else { return }
        let ok = bytes.withUnsafeBytes { SSL_write(session.ssl, $0.baseAddress, Int32($0.count)) > 0 }
        guard ok else {
            close(session, reason: TLSError.openssl("encrypting for \(session.peer)").description)
            return
        }
        session.lastSent = Clock.monotonicNanos()
        flush(session)
    }

    /// Moves OpenSSL's output to the socket: straight out when the socket takes it, queued (copied) when not.
    func flush(_ session: TLSSession) {
        while session.state != .closing {
            let n = BIO_read(session.networkOut, scratch, Int32(Self.bufferSize))
            if n <= 0 { return }
            var written = 0
            if session.queuedBytes == 0 {
                var buf = uv_buf_init(scratch.assumingMemoryBound(to: CChar.self), UInt32(n))
                let w = uv_try_write(session.stream, &buf, 1)
                if w >= 0 {
                    written = Int(w)
                } else if w != Int32(UV_EAGAIN.rawValue) {
                    close(session, reason: Libuv.failure("writing to \(session.peer)", w)!.description)
                    return
                }
            }
            if written < n { queue(session, bytes: scratch + written, count: Int(n) - written) }
        }
    }

    /// Queues bytes libuv could not write now. The request and a copy of the bytes share one allocation, freed when
    /// the write completes.
    func queue(_ session: TLSSession, bytes: UnsafeMutableRawPointer, count: Int) {
        guard noteBacklog(session, adding: count) else { return }
        // [byte count][uv_write_t][bytes]
        let header = WriteBlock.requestOffset + MemoryLayout<uv_write_t>.stride
        let block = UnsafeMutableRawPointer.allocate(byteCount: header + count, alignment: 16)
        block.storeBytes(of: count, as: Int.self)
        let request = (block + WriteBlock.requestOffset).bindMemory(to: uv_write_t.self, capacity: 1)
        (block + header).copyMemory(from: bytes, byteCount: count)
        request.pointee.data = Unmanaged.passUnretained(session).toOpaque()
        var buf = uv_buf_init((block + header).assumingMemoryBound(to: CChar.self), UInt32(count))
        session.queuedBytes += count
        let status = uv_write(request, session.stream, &buf, 1, onWriteDone)
        if let failure = Libuv.failure("queueing a write to \(session.peer)", status) {
            session.queuedBytes -= count
            block.deallocate()
            close(session, reason: failure.description)
        }
    }
}
