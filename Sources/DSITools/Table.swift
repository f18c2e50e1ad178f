/// Short tables for the summaries people read at the end of a command: aligned columns, numbers to the right.
public enum Table {
    /// A title line, then one "  name  value" row per pair, names padded to the longest.
    public static func render(title: String, rows: [(String, String)]) -> String {
        let width = rows.map(\.0.count).max() ?? 0
        return ([title] + rows.map { "  " + $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 })
            .joined(separator: "\n") + "\n"
    }

    /// A header and rows; each column as wide as its widest cell. Columns of numbers (after the first) are aligned
    /// right, their header with them.
    public static func render(header: [String], rows: [[String]]) -> String {
        let all = [header] + rows
        let columns = all.map(\.count).max() ?? 0
        let widths = (0..<columns).map { c in all.map { c < $0.count ? $0[c].count : 0 }.max() ?? 0 }
        func number(_ s: String) -> Bool { !s.isEmpty && s.allSatisfy { $0.isNumber || " .,-%".contains($0) } }
        let right = (0..<columns).map { c in c > 0 && rows.allSatisfy { c >= $0.count || number($0[c]) } }
        return all.map { row in
            var line = ""
            for (c, cell) in row.enumerated() {
                let pad = String(repeating: " ", count: widths[c] - cell.count)
                line += (c > 0 ? "  " : "") + (right[c] ? pad + cell : cell + pad)
            }
            while line.last == " " { line.removeLast() }
            return line
        }.joined(separator: "\n") + "\n"
    }
}
