/// Reads the tick form of `--format jsonl` back (what a subscriber that chose the JSON encoding receives): the
/// inverse of `jsonLine`, strict about what it accepts.
extension Tick {
    public struct JSONError: Error, CustomStringConvertible {
        public let reason: String
        public var description: String { reason }
    }

    /// Parses one tick object; keys it does not know are skipped (a newer publisher may add some).
    public init(json text: String) throws {
        let fields = try FlatJSON.parse(Array(text.utf8))
        func number(_ key: String, required: Bool = true) throws -> UInt64 {
            switch fields[key] {
            case .number(let n)?: return n
            case nil where !required: return 0
            default: throw JSONError(reason: "'\(key)' is missing or not an unsigned integer")
            }
        }
        func string(_ key: String, required: Bool = true) throws -> String? {
            switch fields[key] {
            case .string(let s)?: return s
            case nil where !required: return nil
            default: throw JSONError(reason: "'\(key)' is missing or not a string")
            }
        }
        func small<T: FixedWidthInteger>(_ key: String, _: T.Type, required: Bool = true) throws -> T {
            let n = try number(key, required: required)
            guard let v = T(exactly: n) else { throw JSONError(reason: "'\(key)' is out of range (\(n))") }
            return v
        }
        guard let name = try string("kind"), let kind = Kind(name: name) else {
            throw JSONError(reason: "'kind' is not a tick kind")
        }
        self.init(kind: kind)
        if let name = try string("feed", required: false) {
            guard (1...8).contains(name.utf8.count), name.allSatisfy(\.isASCII) else {
                throw JSONError(reason: "'feed' is not a name of 1 to 8 ASCII characters")
            }
            feed = Symbol(name)
        }
        seq = try number("seq")
        streamSeq = try number("streamSeq")
        topicSeq = try number("topicSeq", required: false)
        if case .bool(true)? = fields["image"] { flags |= Flags.image }
        if case .bool(true)? = fields["conflated"] { flags |= Flags.conflated }
        stockLocate = try small("stockLocate", UInt16.self)
        stock = Symbol(try string("stock") ?? "")
        timestamp = try number("timestamp")
        receiveTime = try number("receiveTime")
        switch kind {
        case .trade:
            price = try small("price", UInt32.self)
            shares = try number("shares")
            matchNumber = try number("matchNumber")
            if let s = try string("side", required: false) { side = s.utf8.first ?? 0 }
        case .tradeBreak:
            matchNumber = try number("matchNumber")
        case .quote:
            bidPrice = try small("bidPrice", UInt32.self)
            askPrice = try small("askPrice", UInt32.self)
            bidSize = try number("bidSize")
            askSize = try number("askSize")
        case .status:
            let status = try string("status") ?? ""
            switch status {
            case "gap":
                statusType = Self.gapStatusType
                gapFirst = try number("from")
                gapLast = try number("to")
            case "join":
                statusType = Self.joinStatusType
                gapFirst = try number("from")
            default:
                statusType = Self.statusType(named: status)
                statusCode = try string("code")?.utf8.first ?? 0
                if let r = try string("reason", required: false) { reason = UInt32(truncatingIfNeeded: Symbol(r).raw) }
            }
        }
    }

    /// The ITCH message letter a status name stands for (0 for `other`).
    public static func statusType(named name: String) -> UInt8 {
        for letter in "SHYhJVWKGj".utf8 where statusName(letter) == name { return letter }
        return 0
    }
}

/// A JSON object of numbers, strings and booleans, nothing nested: all the tick form holds.
enum FlatJSON {
    enum Value: Equatable {
        case number(UInt64)
        case string(String)
        case bool(Bool)
    }

    static func parse(_ b: [UInt8]) throws -> [String: Value] {
        var i = 0
        func fail(_ what: String) -> Tick.JSONError { Tick.JSONError(reason: "\(what) at byte \(i)") }
        func skipSpace() { while i < b.count, b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0A || b[i] == 0x0D { i += 1 } }
        func expect(_ c: UInt8) throws {
            skipSpace()
            guard i < b.count, b[i] == c else { throw fail("expected '\(Character(Unicode.Scalar(c)))'") }
            i += 1
        }
        func string() throws -> String {
            try expect(0x22)
            var out: [UInt8] = []
            while i < b.count {
                let c = b[i]
                i += 1
                switch c {
                case 0x22: return String(decoding: out, as: UTF8.self)
                case 0x5C:
                    guard i < b.count else { throw fail("an escape cut short") }
                    let e = b[i]
                    i += 1
                    switch e {
                    case 0x22, 0x5C, 0x2F: out.append(e)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "u"):
                        guard i + 4 <= b.count, let v = UInt32(String(decoding: b[i..<i + 4], as: UTF8.self), radix: 16),
                            let scalar = Unicode.Scalar(v)
                        else { throw fail("a bad \\u escape") }
                        i += 4
                        out.append(contentsOf: Array(String(Character(scalar)).utf8))
                    default: throw fail("an unknown escape")
                    }
                default:
                    guard c >= 0x20 else { throw fail("a control character in a string") }
                    out.append(c)
                }
            }
            throw fail("a string that does not end")
        }
        var fields: [String: Value] = [:]
        try expect(0x7B)
        skipSpace()
        if i < b.count, b[i] == 0x7D {
            i += 1
        } else {
            while true {
                let key = try string()
                try expect(0x3A)
                skipSpace()
                guard i < b.count else { throw fail("a value missing") }
                switch b[i] {
                case 0x22:
                    fields[key] = .string(try string())
                case UInt8(ascii: "0")...UInt8(ascii: "9"):
                    var n: UInt64 = 0
                    while i < b.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b[i]) {
                        let (m, o1) = n.multipliedReportingOverflow(by: 10)
                        let (s, o2) = m.addingReportingOverflow(UInt64(b[i] - UInt8(ascii: "0")))
                        guard !o1 && !o2 else { throw fail("a number beyond 64 bits") }
                        n = s
                        i += 1
                    }
                    fields[key] = .number(n)
                case UInt8(ascii: "t") where b[i...].starts(with: Array("true".utf8)):
                    i += 4
                    fields[key] = .bool(true)
                case UInt8(ascii: "f") where b[i...].starts(with: Array("false".utf8)):
                    i += 5
                    fields[key] = .bool(false)
                default:
                    throw fail("a value that is not an unsigned integer, a string or a boolean")
                }
                skipSpace()
                guard i < b.count else { throw fail("an object that does not end") }
                if b[i] == 0x2C {
                    i += 1
                    continue
                }
                try expect(0x7D)
                break
            }
        }
        skipSpace()
        guard i == b.count else { throw fail("bytes after the object") }
        return fields
    }
}
