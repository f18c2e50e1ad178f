import COpenSSL
import CUV
import DSICore

/// Shutdown: draining the ring, telling every subscriber the stream ended, closing.
extension TLSPublisher {
    /// Drains `ring`, tells every subscriber the stream ended (end frame, then TLS close_notify), waits up to
    /// `timeoutNanos` for their queues to empty, then closes everything.
    public func finish(ring: SPSCRing, timeoutNanos: UInt64 = 2_000_000_000) {
        var open = OpenGate()
        finish(ring: ring, gate: &open, timeoutNanos: timeoutNanos)
    }

    /// `finish(ring:)`, with the gate the polls used applied to what is drained.
    public func finish<Gate: TickGate>(ring: SPSCRing, gate: inout Gate, timeoutNanos: UInt64 = 2_000_000_000) {
        finish(rings: [ring], gate: &gate, timeoutNanos: timeoutNanos)
    }

    /// `finish(ring:)` for a publisher fed by several rings: each is drained.
    public func finish<Gate: TickGate>(rings: [SPSCRing], gate: inout Gate, timeoutNanos: UInt64 = 2_000_000_000) {
        guard !closed else { return }
        while rings.contains(where: { $0.readySlots(limit: 1) > 0 }) { _ = poll(rings: rings, gate: &gate) }
        for session in sessions.values where session.state == .ready {
            send(.end(lastStreamSeq: lastStreamSeq), to: session)
            SSL_shutdown(session.ssl)
            flush(session)
        }
        let deadline = Clock.monotonicNanos() + timeoutNanos
        while sessions.values.contains(where: { $0.queuedBytes > 0 }) && Clock.monotonicNanos() < deadline {
            uv_run(loop, UV_RUN_NOWAIT)
            Clock.sleep(nanos: 200_000)
        }
        for session in Array(sessions.values) { close(session, reason: nil) }
        uv_close(UnsafeMutableRawPointer(server).assumingMemoryBound(to: uv_handle_t.self), nil)
        uv_run(loop, UV_RUN_DEFAULT)  // runs the close callbacks; nothing else is left on the loop
        uv_loop_close(loop)
        journal?.flush()
        closed = true
    }
}
