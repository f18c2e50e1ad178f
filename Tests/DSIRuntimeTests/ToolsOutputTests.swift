import DSICore
import DSITestSupport
import Foundation
import Testing

@testable import DSITools

/// The lines people read: progress (rate, done of total, time left) and summary tables (aligned, numbers right).
@Suite struct ToolsOutputTests {
    @Test func progressSaysRateDoneAndTimeLeft() {
        let line = ProgressLine.line(label: "replay", unit: "packets", done: 27_000, total: 60_000, elapsedNanos: 1_350_000_000)
        #expect(line == "replay   45%  27 000 / 60 000 packets  20 000/s  0:02 left")
        let open = ProgressLine.line(
            label: "record", unit: "packets", done: 1_234_567, total: nil, elapsedNanos: 3_725_000_000_000)
        #expect(open == "record  1 234 567 packets  331/s  1:02:05")
        #expect(ProgressLine.line(label: "x", unit: "y", done: 0, total: 10, elapsedNanos: 0) == "x    0%  0 / 10 y  0/s")
    }

    @Test func tablesAlignTheirColumns() {
        #expect(Table.render(title: "t", rows: [("a", "1"), ("longer", "22")]) == "t\n  a       1\n  longer  22\n")
        let table = Table.render(header: ["stage", "p50", "p99"], rows: [["decode", "120", "4500"], ["tls", "9", "88"]])
        #expect(table == "stage   p50   p99\ndecode  120  4500\ntls       9    88\n")
    }

    @Test func textLinesSayTimesInClockFormAndPricesInDollars() {
        #expect(TextLines.time(34_200_000_016_684) == "09:30:00.000016684")
        #expect(TextLines.time(0) == "00:00:00.000000000")
        #expect(TextLines.time(86_399_999_999_999) == "23:59:59.999999999")
        #expect(TextLines.dollars(3_600_000) == "360.0000" && TextLines.dollars(1) == "0.0001")
        #expect(TextLines.dollars(UInt32.max) == "429496.7295")
        var trade = Tick(kind: .trade)
        trade.streamSeq = 19
        trade.stock = Symbol("ZXD")
        trade.timestamp = 34_200_000_016_684
        trade.price = 3_600_000
        trade.shares = 300
        trade.side = UInt8(ascii: "B")
        trade.matchNumber = 1
        #expect(TextLines.tick(trade) == "      19  09:30:00.000016684  ZXD       trade       300 @ 360.0000  side B  match 1")
        var quote = Tick(kind: .quote)
        quote.streamSeq = 7
        quote.stock = Symbol("ZXA")
        quote.bidPrice = 1_000_000
        quote.bidSize = 100
        quote.flags = Tick.Flags.image
        #expect(TextLines.tick(quote).hasSuffix("ZXA       quote       bid 100 @ 100.0000  ask -  [image]"))
        var gap = Tick(kind: .status)
        gap.statusType = Tick.gapStatusType
        gap.gapFirst = 14
        gap.gapLast = 15
        #expect(TextLines.tick(gap).hasSuffix("-         status      gap: messages 14-15 lost"))
    }

    @Test func aDecodedMessageKeepsItsFieldOrderWithPricesInDollars() {
        let line =
            #"{"session":"S","seq":100,"type":"A","stockLocate":8,"trackingNumber":0,"timestamp":34200000169739,"orderReferenceNumber":45,"buySellIndicator":"S","shares":100,"stock":"ZXH","price":4481300}"#
        #expect(
            TextLines.message(json: line)
                == "     100  09:30:00.000169739  A  ZXH       orderReferenceNumber=45 buySellIndicator=S shares=100 price=448.1300"
        )
        // Not JSON (it cannot come from decode, but a formatter must not trap): printed as it is.
        #expect(TextLines.message(json: "not {json") == "not {json")
        #expect(TextLines.keyOrder(#"{"a":1,"b":{"c":[1,{"d":2}]},"e\"q":"x,y:z"}"#) == ["a", "b", #"e"q"#])
    }

    /// `dsi ticks` and `dsi decode` in text say what their JSON lines say, line for line.
    @Test func textAndJSONLinesAgree() throws {
        let dir = try TemporaryDirectory("dsi-text")
        defer { dir.remove() }
        let made = try Commands.run(Commands.dsi, ["gen", "--messages", "3000", "--seed", "9", "--out", dir.file("s.pcap")])
        #expect(made.status == 0, "\(made.stderr)")
        let json = try jsonLines(try Commands.run(Commands.dsi, ["ticks", dir.file("s.pcap"), "--format", "jsonl"]).stdout)
        let text = try Commands.run(Commands.dsi, ["ticks", dir.file("s.pcap")]).stdout.split(separator: "\n")
        #expect(json.count == text.count && json.count > 100)
        for (object, line) in zip(json, text) {
            let columns = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            let stock = object["stock"] as? String ?? ""
            #expect(columns[0] == "\(object["streamSeq"] as? Int ?? -1)" && columns[2] == (stock.isEmpty ? "-" : stock))
            #expect(columns[3] == object["kind"] as? String, "\(line)")
            if let price = object["price"] as? Int { #expect(line.contains("@ \(TextLines.dollars(price))"), "\(line)") }
        }
        let decoded = try jsonLines(try Commands.run(Commands.dsi, ["decode", dir.file("s.pcap"), "--format", "jsonl"]).stdout)
        let decodedText = try Commands.run(Commands.dsi, ["decode", dir.file("s.pcap")]).stdout.split(separator: "\n")
        #expect(decoded.count == decodedText.count && decoded.count == 3_000)
        for (object, line) in zip(decoded, decodedText) {
            let columns = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            #expect(columns[0] == "\(object["seq"] as? Int ?? -1)" && columns[2] == object["type"] as? String, "\(line)")
        }
        let bad = try Commands.run(Commands.dsi, ["ticks", dir.file("s.pcap"), "--format", "xml"])
        #expect(bad.status != 0 && bad.stderr.contains("--format"), "\(bad.stderr)")
    }
}
