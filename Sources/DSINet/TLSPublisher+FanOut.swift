import COpenSSL
import DSICore

/// The batch fan-out: each numbered tick to the sessions that take it, in their encodings, one TLS write per
/// session per batch.
extension TLSPublisher {
    /// Sends the batch's `count` ticks (in `batchTicks`, binary frames in `frames`).
    func fanOut(count: Int) {
        encoded.reset()
        // With only firehose sessions (the common single-consumer case) there is no per-tick work at all.
        if index.hasSelective {
            for i in 0..<count {
                let tick = batchTicks[i]
                index.forEachTaker(of: tick) { session in
                    if session.conflating && conflates(tick, for: session) { return }
                    if session.encoding == .binary {
                        append(
                            UnsafeRawBufferPointer(
                                start: frames + i * PublishProtocol.tickFrameSize, count: PublishProtocol.tickFrameSize),
                            to: session)
                    } else {
                        encoded.withFrame(i, tick, session.encoding) { append($0, to: session) }
                    }
                    session.ticksSent += 1
                }
            }
        }
        let whole = UnsafeRawBufferPointer(start: frames, count: count * PublishProtocol.tickFrameSize)
        for session in index.firehose where session.state == .ready {
            if session.conflating {
                // Behind: tick by tick, so its quotes can be held.
                for i in 0..<count where !conflates(batchTicks[i], for: session) {
                    append(
                        UnsafeRawBufferPointer(
                            start: frames + i * PublishProtocol.tickFrameSize, count: PublishProtocol.tickFrameSize),
                        to: session)
                    session.ticksSent += 1
                }
            } else {
                append(whole, to: session)
                session.ticksSent += UInt64(count)
            }
        }
        let now = Clock.monotonicNanos()
        for session in touched { writePending(session, now: now) }
        touched.removeAll(keepingCapacity: true)
    }

    /// Adds a frame to what `session` gets from this batch; writes out first when its buffer is full.
    @inline(__always)
    func append(_ frame: UnsafeRawBufferPointer, to session: TLSSession) {
        guard session.state == .ready else { return }  // closed earlier in this batch
        if session.pendingCount + frame.count > TLSSession.pendingCapacity {
            writePending(session, now: Clock.monotonicNanos())
            guard session.state == .ready else { return }
        }
        if session.pendingCount == 0 { touched.append(session) }
        (session.pending + session.pendingCount).copyMemory(from: frame.baseAddress!, byteCount: frame.count)
        session.pendingCount += frame.count
    }

    /// Encrypts what `session` has pending and moves it toward the socket.
    func writePending(_ session: TLSSession, now: UInt64) {
        let count = session.pendingCount
        guard count > 0 else { return }
        session.pendingCount = 0
        guard session.state == .ready else { return }
        // Writing to a memory BIO cannot block; the only failure is a broken session.
        if SSL_write(session.ssl, session.pending, Int32(count)) <= 0 {
            close(session, reason: TLSError.openssl("encrypting for \(session.peer)").description)
            return
        }
        session.lastSent = now
        flush(session)
    }
}
