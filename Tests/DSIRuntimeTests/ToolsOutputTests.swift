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
}
