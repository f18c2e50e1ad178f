/// The tick form of `--format jsonl`: one JSON object per tick, keys in a fixed order (see README, "Tick form").
extension Tick {
    /// The JSON object for this tick, without a trailing newline.
    public var jsonLine: String {
        var out = "{\"kind\":\"\(kind.name)\","
        if feed.raw != 0 { out += "\"feed\":\"\(feed.description.jsonEscaped)\"," }
        out += "\"seq\":\(seq),\"streamSeq\":\(streamSeq),\"topicSeq\":\(topicSeq)"
        if flags & Flags.image != 0 { out += ",\"image\":true" }
        if flags & Flags.conflated != 0 { out += ",\"conflated\":true" }
        out += ",\"stockLocate\":\(stockLocate)"
        out += ",\"stock\":\"\(stock.description.jsonEscaped)\",\"timestamp\":\(timestamp)"
        switch kind {
        case .trade:
            out += ",\"price\":\(price),\"shares\":\(shares),\"matchNumber\":\(matchNumber)"
            if side != 0 { out += ",\"side\":\"\(Character(Unicode.Scalar(side)))\"" }
        case .tradeBreak:
            out += ",\"matchNumber\":\(matchNumber)"
        case .quote:
            out += ",\"bidPrice\":\(bidPrice),\"bidSize\":\(bidSize),\"askPrice\":\(askPrice),\"askSize\":\(askSize)"
        case .status where statusType == Self.gapStatusType:
            out += ",\"status\":\"gap\",\"from\":\(gapFirst),\"to\":\(gapLast)"
        case .status where statusType == Self.joinStatusType:
            out += ",\"status\":\"join\",\"from\":\(gapFirst)"
        case .status:
            out += ",\"status\":\"\(Self.statusName(statusType))\",\"code\":\"\(Character(Unicode.Scalar(statusCode)))\""
            if reason != 0 {
                out += ",\"reason\":\"\(Symbol(raw: UInt64(reason) | 0x2020_2020_0000_0000).description.jsonEscaped)\""
            }
        }
        out += ",\"receiveTime\":\(receiveTime)}"
        return out
    }

    /// What a status tick reports, named after the ITCH message that caused it.
    public static func statusName(_ type: UInt8) -> String {
        switch type {
        case UInt8(ascii: "S"): "systemEvent"
        case UInt8(ascii: "H"): "tradingAction"
        case UInt8(ascii: "Y"): "regSHO"
        case UInt8(ascii: "h"): "operationalHalt"
        case UInt8(ascii: "J"): "luldCollar"
        case UInt8(ascii: "V"): "mwcbLevels"
        case UInt8(ascii: "W"): "mwcbBreach"
        case UInt8(ascii: "K"): "ipoQuotingPeriod"
        case gapStatusType: "gap"
        case joinStatusType: "join"
        default: "other"
        }
    }
}

extension String {
    /// The string with JSON's mandatory escapes applied (quotes, backslashes, control characters).
    public var jsonEscaped: String {
        var out = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
