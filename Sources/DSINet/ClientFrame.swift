import DSICore

/// A frame a subscriber sends (docs/publish-protocol.md, "Client frames"): built by clients, parsed by the publisher.
public enum ClientFrame: Equatable, Sendable {
    /// First frame after the handshake: the protocol version the client speaks, how it wants ticks, its name.
    case login(version: UInt16, encoding: UInt8, name: String)
    /// Adds `kinds` for `symbols` (raw alpha8), or for every symbol when `symbols` is nil.
    case subscribe(request: UInt32, kinds: TickSelection.Kinds, symbols: [UInt64]?)
    case unsubscribe(request: UInt32, kinds: TickSelection.Kinds, symbols: [UInt64]?)
    /// A first subscription that starts after stream sequence `after` instead of now (from the journal).
    case resume(request: UInt32, after: UInt64, kinds: TickSelection.Kinds, symbols: [UInt64]?)
    case heartbeat

    /// The frame's bytes, length first.
    public var bytes: [UInt8] {
        switch self {
        case .login(let version, let encoding, let name):
            var b = FrameBuilder(type: PublishProtocol.ClientFrameType.login.rawValue)
            b.u16(version)
            b.u8(encoding)
            b.u8(0)
            let text = Array(name.utf8.prefix(PublishProtocol.maxNameBytes))
            b.u8(UInt8(text.count))
            b.raw(text)
            return b.bytes
        case .subscribe(let request, let kinds, let symbols):
            return Self.selection(.subscribe, request: request, after: nil, kinds: kinds, symbols: symbols)
        case .unsubscribe(let request, let kinds, let symbols):
            return Self.selection(.unsubscribe, request: request, after: nil, kinds: kinds, symbols: symbols)
        case .resume(let request, let after, let kinds, let symbols):
            return Self.selection(.resume, request: request, after: after, kinds: kinds, symbols: symbols)
        case .heartbeat:
            return FrameBuilder(type: PublishProtocol.ClientFrameType.heartbeat.rawValue).bytes
        }
    }

    private static func selection(
        _ type: PublishProtocol.ClientFrameType, request: UInt32, after: UInt64?, kinds: TickSelection.Kinds,
        symbols: [UInt64]?
    ) -> [UInt8] {
        var b = FrameBuilder(type: type.rawValue)
        b.u32(request)
        if let after { b.u64(after) }
        b.u8(kinds.rawValue)
        b.u8(symbols == nil ? PublishProtocol.SubscriptionFlags.everySymbol : 0)
        b.u16(UInt16(symbols?.count ?? 0))
        for s in symbols ?? [] { b.symbol(s) }
        return b.bytes
    }

    /// The most symbols one subscribe, unsubscribe or resume frame can carry within `maxClientFrame`.
    public static let maxSymbolsPerFrame = (PublishProtocol.maxClientFrame - PublishProtocol.headerSize - 16) / 8

    /// Parses a frame's type and payload (the length already checked against `maxClientFrame`).
    /// - Returns: nil for a type this publisher does not know.
    public static func parse(type: UInt8, payload: UnsafeRawBufferPointer) throws -> ClientFrame? {
        guard let known = PublishProtocol.ClientFrameType(rawValue: type) else { return nil }
        switch known {
        case .login:
            var c = FrameCursor(payload, what: "a login frame")
            let version = try c.u16("version")
            let encoding = try c.u8("encoding")
            _ = try c.u8("flags")
            let length = Int(try c.u8("name length"))
            guard length <= PublishProtocol.maxNameBytes else {
                throw FrameError("a login frame's name of \(length) bytes (at most \(PublishProtocol.maxNameBytes))")
            }
            let name = String(decoding: try c.bytes(length, "name"), as: UTF8.self)
            try c.end()
            return .login(version: version, encoding: encoding, name: name)
        case .subscribe, .unsubscribe, .resume:
            let what = "a \(known == .subscribe ? "subscribe" : known == .unsubscribe ? "unsubscribe" : "resume") frame"
            var c = FrameCursor(payload, what: what)
            let request = try c.u32("request id")
            let after = known == .resume ? try c.u64("sequence") : 0
            let kinds = TickSelection.Kinds(rawValue: try c.u8("kinds"))
            let flags = try c.u8("flags")
            let count = Int(try c.u16("symbol count"))
            guard kinds.rawValue & ~TickSelection.Kinds.all.rawValue == 0 else {
                throw FrameError("\(what) names unknown kinds (bits \(kinds.rawValue))")
            }
            var symbols: [UInt64]? = nil
            if flags & PublishProtocol.SubscriptionFlags.everySymbol != 0 {
                guard count == 0 else { throw FrameError("\(what) for every symbol also lists \(count) symbols") }
            } else {
                var list: [UInt64] = []
                list.reserveCapacity(count)
                for _ in 0..<count {
                    let raw = try c.symbol("symbols")
                    guard Self.isSymbol(raw) else { throw FrameError("\(what) lists a symbol that is not printable ASCII") }
                    list.append(raw)
                }
                symbols = list
            }
            try c.end()
            switch known {
            case .subscribe: return .subscribe(request: request, kinds: kinds, symbols: symbols)
            case .unsubscribe: return .unsubscribe(request: request, kinds: kinds, symbols: symbols)
            default: return .resume(request: request, after: after, kinds: kinds, symbols: symbols)
            }
        case .heartbeat:
            return .heartbeat
        }
    }

    /// An alpha8 symbol: printable ASCII, space padded.
    static func isSymbol(_ raw: UInt64) -> Bool {
        (0..<8).allSatisfy { i in (0x20...0x7E).contains(UInt8(truncatingIfNeeded: raw >> (8 * UInt64(i)))) }
    }
}
