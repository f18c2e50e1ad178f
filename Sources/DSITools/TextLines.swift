import DSICore
import Foundation

/// The lines `dsi decode`, `dsi ticks` and `dsi subscribe` print for people (their default; `--format jsonl` is for
/// programs): one line per message or tick, columns aligned, prices in dollars, exchange times as
/// HH:MM:SS.nnnnnnnnn, like tshark's summary lines.
public enum TextLines {
    /// Nanoseconds since midnight as HH:MM:SS.nnnnnnnnn.
    public static func time(_ nanos: UInt64) -> String {
        let seconds = nanos / 1_000_000_000
        let fraction = String(nanos % 1_000_000_000)
        return String(format: "%02d:%02d:%02d.", Int(seconds / 3600), Int(seconds / 60 % 60), Int(seconds % 60))
            + String(repeating: "0", count: 9 - fraction.count) + fraction
    }

    /// An ITCH price (four implied decimals) in dollars: 3600000 as "360.0000".
    public static func dollars<P: BinaryInteger>(_ price: P) -> String {
        let value = UInt64(price)
        let cents = String(value % 10_000)
        return "\(value / 10_000)." + String(repeating: "0", count: 4 - cents.count) + cents
    }

    static func padded(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }

    static func right(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
    }

    /// "      19  09:30:00.000016684  ZXD       trade       300 @ 360.0000  side B  match 1"
    public static func tick(_ t: Tick) -> String {
        var detail: String
        switch t.kind {
        case .trade:
            detail = "\(t.shares) @ \(dollars(t.price))"
            if t.side != 0 { detail += "  side \(Character(Unicode.Scalar(t.side)))" }
            detail += "  match \(t.matchNumber)"
        case .tradeBreak:
            detail = "match \(t.matchNumber) broken"
        case .quote:
            // An empty side of the book (no size, no price) is "-", not a quote at zero.
            func side(_ size: UInt64, _ price: UInt32) -> String {
                size == 0 && price == 0 ? "-" : "\(size) @ \(dollars(price))"
            }
            detail = "bid \(side(t.bidSize, t.bidPrice))  ask \(side(t.askSize, t.askPrice))"
        case .status where t.statusType == Tick.gapStatusType:
            detail = "gap: messages \(t.gapFirst)-\(t.gapLast) lost"
        case .status where t.statusType == Tick.joinStatusType:
            detail = "joined at message \(t.gapFirst)"
        case .status:
            detail = "\(Tick.statusName(t.statusType)) \(Character(Unicode.Scalar(t.statusCode)))"
            let reason = Symbol(raw: UInt64(t.reason) | 0x2020_2020_0000_0000).description
            if t.reason != 0 && !reason.isEmpty { detail += "  reason \(reason)" }
        }
        if t.flags & Tick.Flags.image != 0 { detail += "  [image]" }
        if t.flags & Tick.Flags.conflated != 0 { detail += "  [conflated]" }
        let stock = t.stock.description.isEmpty ? "-" : t.stock.description
        // Several feeds' ticks in one stream: each line says whose.
        let feed = t.feed.raw == 0 ? "" : "\(padded(t.feed.description, 8))  "
        return
            "\(feed)\(right(String(t.streamSeq), 8))  \(time(t.timestamp))  \(padded(stock, 8))  \(padded(t.kind.name, 10))  \(detail)"
    }

    /// Fields of a decoded message a person does not need on its summary line (they are in `--format jsonl`).
    static let quiet: Set<String> = ["session", "seq", "type", "stockLocate", "trackingNumber", "timestamp", "stock"]

    /// A message from its `dsi decode` JSON object: sequence, time, type, stock, then its other fields as
    /// name=value, prices (fields named for one) in dollars.
    /// "       3  09:29:59.990002155  R  ZXA       marketCategory=Q financialStatusIndicator=N ..."
    public static func message(json line: String) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return line }
        let seq = (object["seq"] as? NSNumber)?.uint64Value ?? 0
        let timestamp = (object["timestamp"] as? NSNumber)?.uint64Value ?? 0
        let type = object["type"] as? String ?? "?"
        let stock = (object["stock"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? "-"
        // Keys in the JSON's own order: it is the message's field order.
        let order = keyOrder(line)
        let fields = order.filter { !quiet.contains($0) }.compactMap { key -> String? in
            guard let value = object[key] else { return nil }
            if key.lowercased().hasSuffix("price"), let n = value as? NSNumber, !(value is Bool) {
                return "\(key)=\(dollars(n.uint64Value))"
            }
            return "\(key)=\(value)"
        }
        return "\(right(String(seq), 8))  \(time(timestamp))  \(type)  \(padded(stock, 8))  \(fields.joined(separator: " "))"
    }

    /// The top-level keys of a flat JSON object, in order (JSONSerialization's dictionary forgets it).
    static func keyOrder(_ line: String) -> [String] {
        var keys: [String] = []
        var depth = 0
        var inString = false
        var escaped = false
        var current = ""
        var expectingKey = true
        for ch in line {
            if inString {
                if escaped {
                    escaped = false
                    current.append(ch)
                } else if ch == "\\" {
                    escaped = true
                } else if ch == "\"" {
                    inString = false
                    if depth == 1 && expectingKey { keys.append(current) }
                } else {
                    current.append(ch)
                }
                continue
            }
            switch ch {
            case "\"":
                inString = true
                current = ""
            case "{", "[": depth += 1
            case "}", "]": depth -= 1
            case ":": if depth == 1 { expectingKey = false }
            case ",": if depth == 1 { expectingKey = true }
            default: break
            }
        }
        return keys
    }
}
