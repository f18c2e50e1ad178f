import DSICore

/// What subscribers send: frames cut out of the decrypted stream, each checked (size, rate, form) before it is acted
/// on; a login first, then subscription requests and heartbeats.
extension TLSPublisher {
    /// Acts on every complete frame in the session's inbound bytes; keeps a partial one for the next read.
    func readFrames(_ session: TLSSession) {
        var offset = 0
        defer { if session.state != .closing { session.inbound.removeFirst(offset) } }
        while session.state != .closing {
            let available = session.inbound.count - offset
            guard available >= PublishProtocol.headerSize else { return }
            let length = Int(session.inbound[offset]) << 8 | Int(session.inbound[offset + 1])
            guard length >= 1 else { return cutOff(session, .malformedFrame, "a frame of length 0") }
            guard 2 + length <= PublishProtocol.maxClientFrame else {
                return cutOff(
                    session, .frameTooLarge,
                    "a frame of \(2 + length) bytes (a client frame is at most \(PublishProtocol.maxClientFrame))")
            }
            guard available >= 2 + length else { return }
            let now = Clock.monotonicNanos()
            session.lastHeard = now
            session.requests.refill(now: now)
            guard session.requests.take() else {
                return cutOff(
                    session, .rateLimited,
                    "more than \(Int(options.subscriberLimits.framesPerSecond)) frames per second")
            }
            let type = session.inbound[offset + 2]
            let parsed: ClientFrame?
            do {
                parsed = try session.inbound.withUnsafeBytes { raw in
                    try ClientFrame.parse(
                        type: type, payload: UnsafeRawBufferPointer(rebasing: raw[offset + 3..<offset + 2 + length]))
                }
            } catch {
                return cutOff(session, .malformedFrame, "\(error)")
            }
            offset += 2 + length
            guard let frame = parsed else {
                refuse(session, .unknownFrameType, request: 0, "unknown frame type \(type)")
                continue
            }
            handle(frame, from: session)
        }
    }

    func handle(_ frame: ClientFrame, from session: TLSSession) {
        if case .login(let version, let encoding, let name) = frame {
            return login(session, version: version, encoding: encoding, name: name)
        }
        guard session.state == .ready else {
            return cutOff(session, .notLoggedIn, "the first frame after the handshake must be a login")
        }
        switch frame {
        case .login:
            break
        case .heartbeat:
            break  // noted in lastHeard
        case .subscribe(let request, let kinds, let symbols):
            subscribe(session, request: request, kinds: kinds, symbols: symbols)
        case .unsubscribe(let request, let kinds, let symbols):
            unsubscribe(session, request: request, kinds: kinds, symbols: symbols)
        case .resume(let request, let after, let kinds, let symbols):
            resume(session, request: request, after: after, kinds: kinds, symbols: symbols)
        }
    }

    func login(_ session: TLSSession, version: UInt16, encoding: UInt8, name: String) {
        guard session.state == .loggingIn else {
            return refuse(session, .alreadyLoggedIn, request: 0, "already logged in")
        }
        guard version == PublishProtocol.version else {
            return cutOff(
                session, .unsupportedVersion,
                "protocol version \(version) is not spoken here (this publisher speaks \(PublishProtocol.version))")
        }
        guard let chosen = PublishProtocol.Encoding(rawValue: encoding) else {
            return cutOff(session, .unknownEncoding, "unknown encoding \(encoding) (1 binary, 2 json, 3 protobuf)")
        }
        session.name = String(name.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.map(Character.init))
        session.encoding = chosen
        if options.clientCA != nil {
            session.identity = Certificates.identity(of: session.ssl)
            if let entitlements {
                guard let identity = session.identity, let allowed = entitlements.allowed(for: identity) else {
                    return cutOff(
                        session, .notEntitled,
                        "certificate \(session.identity?.description ?? "(none)") is not entitled to any ticks")
                }
                session.entitlement = allowed
            }
        }
        session.state = .ready
        updateSubscriberGauge()
        connectionLog.note(.connected, .info, "subscriber \(session.peer) logged in (\(chosen.name) ticks)")
        send(
            .hello(
                .init(
                    version: PublishProtocol.version, encoding: chosen.rawValue, tickSize: UInt16(Tick.wireSize),
                    heartbeatMillis: UInt16(clamping: options.subscriberLimits.heartbeatNanos / 1_000_000),
                    nextStreamSeq: lastStreamSeq + 1, firstRetained: firstRetained, day: streamDay,
                    maxSymbols: UInt32(clamping: options.subscriberLimits.maxSymbols))), to: session)
    }

    /// Tells a subscriber its request was refused; the session goes on.
    func refuse(_ session: TLSSession, _ code: PublishProtocol.Code, request: UInt32, _ reason: String) {
        requestsRefused.add()
        connectionLog.note(.request, .info, "refused a request of \(session.peer): \(reason)")
        send(.error(code, request: request, reason), to: session)
    }

    /// Drops a subscriber that broke the protocol, telling it why.
    func cutOff(_ session: TLSSession, _ code: PublishProtocol.Code, _ reason: String) {
        protocolErrors.add()
        connectionLog.note(.protocolError, .warning, "cutting off \(session.peer): \(reason)")
        close(session, reason: reason, code: code)
    }
}
