import CDSIShims
import COpenSSL
import CUV
import DSICore
import Glibc

/// Connections: accepting them within the limits, their TLS handshakes, reading what they send, closing them.
extension TLSPublisher {
    /// A client connected: accepted, held against the limits (refused at once when one is reached, before any TLS
    /// work), then given a TLS session that starts its handshake.
    func accept() {
        let tcp = UnsafeMutablePointer<uv_tcp_t>.allocate(capacity: 1)
        if let failure = Libuv.failure("uv_tcp_init", uv_tcp_init(loop, tcp)) {
            tcp.deallocate()
            connectionLog.note(.refused, .warning, "cannot take a connection: \(failure)")
            return
        }
        let stream = UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_stream_t.self)
        func discard() { uv_close(UnsafeMutableRawPointer(tcp).assumingMemoryBound(to: uv_handle_t.self)) { $0?.deallocate() } }
        if let failure = Libuv.failure("accepting a connection", uv_accept(serverStream, stream)) {
            connectionLog.note(.refused, .warning, "\(failure)")
            return discard()
        }
        let endpoint = Self.peer(tcp)
        let address = endpoint?.address.value ?? 0
        let peer = endpoint?.description ?? "?"
        if let reason = refusal(for: address) {
            connectionsRefused.add()
            connectionLog.note(.refused, .warning, "refused a connection from \(peer): \(reason)")
            return discard()
        }
        guard let session = TLSSession(context: context, tcp: tcp, limits: options.subscriberLimits) else {
            connectionLog.note(.handshakeFailed, .warning, TLSError.openssl("creating a TLS session for \(peer)").description)
            return discard()
        }
        session.endpoint = endpoint
        tcp.pointee.data = Unmanaged.passUnretained(session).toOpaque()
        sessions[ObjectIdentifier(session)] = session
        openConnections.set(UInt64(sessions.count))
        connectionsByAddress[address, default: 0] += 1
        handshaking += 1
        sessionsAccepted.add()
        // Ticks go out as soon as they are written, never held back for a fuller segment.
        if let failure = Libuv.failure("uv_tcp_nodelay", uv_tcp_nodelay(tcp, 1))
            ?? Libuv.failure("uv_read_start", uv_read_start(stream, onAlloc, onRead))
        {
            connectionLog.note(.closed, .warning, "closing \(peer): \(failure)")
            close(session, reason: nil)
        }
    }

    /// Why a new connection from `address` is refused, or nil. Closing connections count until libuv has closed them:
    /// they still hold a descriptor.
    func refusal(for address: UInt32) -> String? {
        let limits = options.limits
        if sessions.count >= limits.maxConnections {
            return "\(sessions.count) connections are open, the most allowed (publisher.maxConnections)"
        }
        if connectionsByAddress[address, default: 0] >= limits.maxPerAddress {
            return
                "\(limits.maxPerAddress) connections from this address are open, the most allowed (publisher.maxConnectionsPerAddress)"
        }
        if handshaking >= limits.maxHandshakes {
            return "\(handshaking) TLS handshakes are in progress, the most allowed (publisher.maxHandshakes)"
        }
        return nil
    }

    /// The client's address and port (nil when the kernel cannot say: the connection is already gone).
    static func peer(_ tcp: UnsafeMutablePointer<uv_tcp_t>) -> IPv4Endpoint? {
        var name = sockaddr_in()
        var length = Int32(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &name) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_getpeername(tcp, $0, &length) }
        }
        return ok == 0 ? IPv4Endpoint(name) : nil
    }

    /// Ciphertext arrived: feed OpenSSL, advance the handshake, then read the client's frames, notice a close_notify,
    /// and cut off a stream that no longer decrypts.
    func received(_ session: TLSSession, bytes: UnsafeRawPointer, count: Int) {
        var offset = 0
        while offset < count {
            let n = BIO_write(session.networkIn, bytes + offset, Int32(count - offset))
            if n <= 0 { break }
            offset += Int(n)
        }
        if session.state == .handshaking {
            let r = SSL_do_handshake(session.ssl)
            if r == 1 {
                session.state = .loggingIn
                session.establishedAt = Clock.monotonicNanos()
                session.lastHeard = session.establishedAt
                handshaking -= 1
                connectionLog.note(
                    .connected, .info, "client \(session.peer) connected (\(String(cString: SSL_get_version(session.ssl))))")
            } else {
                let error = SSL_get_error(session.ssl, r)
                if error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE {
                    handshakeFailures.add()
                    let reason = TLSError.openssl("TLS handshake with \(session.peer)").description
                    connectionLog.note(.handshakeFailed, .warning, reason)
                    flush(session)  // the alert, so the client learns why
                    close(session, reason: nil)
                    return
                }
                flush(session)
                return
            }
        }
        while session.state != .closing {
            let n = SSL_read(session.ssl, scratch, Int32(Self.bufferSize))
            if n > 0 {
                session.inbound.append(contentsOf: UnsafeRawBufferPointer(start: scratch, count: Int(n)))
                readFrames(session)
                continue
            }
            let error = SSL_get_error(session.ssl, n)
            if error == SSL_ERROR_ZERO_RETURN {
                close(session, reason: nil)
                return
            }
            if error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE {
                // A record that does not decrypt or parse (a corrupted or forged stream): OpenSSL has failed the
                // session for good, so it is closed now, with its alert, not left to fail at the next tick.
                streamErrors.add()
                connectionLog.note(.closed, .warning, "closing \(TLSError.openssl("reading from \(session.peer)"))")
                flush(session)
                close(session, reason: nil)
                return
            }
            break
        }
        flush(session)
    }

    /// Closes a session (optionally telling it why first, with a goodbye frame); its memory goes when libuv's close
    /// callback runs.
    func close(_ session: TLSSession, reason: String?, code: PublishProtocol.Code = .shuttingDown) {
        guard session.state != .closing else { return }
        if let reason, session.state == .ready || session.state == .loggingIn, session.queuedBytes == 0 {
            // Only with nothing queued: bytes written past a queue would land in the middle of the TLS stream (a slow
            // consumer, whose queue is full, learns it from the closed connection).
            connectionLog.note(.closed, .info, "closing subscriber \(session.peer): \(reason)")
            let frame = ServerFrame.goodbye(code, reason).bytes
            frame.withUnsafeBytes { _ = SSL_write(session.ssl, $0.baseAddress, Int32($0.count)) }
            let n = BIO_read(session.networkOut, scratch, Int32(Self.bufferSize))
            if n > 0 {
                var buf = uv_buf_init(scratch.assumingMemoryBound(to: CChar.self), UInt32(n))
                _ = uv_try_write(session.stream, &buf, 1)
            }
        }
        if session.state == .handshaking { handshaking -= 1 }
        if session.state == .ready {
            connectionLog.note(
                .closed, .info,
                "subscriber \(session.peer) leaves: \(session.ticksSent) ticks sent, \(session.quotesConflated) quotes conflated, \(session.queuedBytes) bytes unsent"
            )
        }
        session.state = .closing
        index.remove(session)
        updateSubscriberGauge()
        uv_close(UnsafeMutableRawPointer(session.tcp).assumingMemoryBound(to: uv_handle_t.self), onSessionClosed)
    }

    func updateSubscriberGauge() {
        subscribers.set(UInt64(sessions.values.filter { $0.state == .ready }.count))
    }

    func sessionClosed(_ tcp: UnsafeMutablePointer<uv_tcp_t>) {
        let session = Unmanaged<TLSSession>.fromOpaque(tcp.pointee.data).takeUnretainedValue()
        sessions[ObjectIdentifier(session)] = nil
        openConnections.set(UInt64(sessions.count))
        if let n = connectionsByAddress[session.address] { connectionsByAddress[session.address] = n > 1 ? n - 1 : nil }
        tcp.deallocate()
    }
}
