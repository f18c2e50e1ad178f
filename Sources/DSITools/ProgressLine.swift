import DSICore
import Foundation

/// Progress of work that runs longer than two seconds (replay, record, decode of large captures, benchmarks): on a
/// terminal one line redrawn in place (rate, done of total, time left); otherwise a plain line every ten seconds, for
/// logs; nothing when quiet. Nothing at all for work that ends within two seconds. Written to standard error.
public final class ProgressLine {
    public enum Style: Sendable {
        case terminal, lines, quiet

        /// A terminal when standard error is one, else plain lines; quiet when asked.
        public static func automatic(quiet: Bool) -> Style {
            quiet ? .quiet : isatty(STDERR_FILENO) == 1 ? .terminal : .lines
        }
    }

    public let label: String
    public let unit: String
    public var total: UInt64?
    public let style: Style
    private let start: UInt64
    private var lastDraw: UInt64 = 0
    private var drawn = false
    /// The first draw waits this long (ns): short work shows no progress.
    static let delay: UInt64 = 2_000_000_000

    public init(label: String, unit: String, total: UInt64? = nil, style: Style) {
        self.label = label
        self.unit = unit
        self.total = total
        self.style = style
        start = Clock.monotonicNanos()
    }

    /// Cheap enough to call per packet: it draws at most 5 times a second on a terminal, every 10 s otherwise.
    @inline(__always)
    public func update(_ done: UInt64) {
        if style == .quiet { return }
        let now = Clock.monotonicNanos()
        let interval: UInt64 = style == .terminal ? 200_000_000 : 10_000_000_000
        guard now &- start >= Self.delay, now &- lastDraw >= interval else { return }
        lastDraw = now
        draw(done, now: now)
    }

    /// Clears the live line (the summary follows on a clean line).
    public func finish() {
        guard drawn, style == .terminal else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }

    func draw(_ done: UInt64, now: UInt64) {
        let text = Self.line(label: label, unit: unit, done: done, total: total, elapsedNanos: now &- start)
        drawn = true
        FileHandle.standardError.write(Data((style == .terminal ? "\r\u{1B}[K" + text : text + "\n").utf8))
    }

    /// "replay  45%  27 000 / 60 000 packets  20 000/s  0:03 left" (without total: done, rate and time so far).
    static func line(label: String, unit: String, done: UInt64, total: UInt64?, elapsedNanos: UInt64) -> String {
        let seconds = Double(elapsedNanos) / 1e9
        let rate = seconds > 0 ? Double(done) / seconds : 0
        var parts = [label]
        if let total, total > 0 {
            parts.append(String(format: "%3.0f%%", min(100, 100 * Double(done) / Double(total))))
            parts.append("\(grouped(done)) / \(grouped(total)) \(unit)")
            parts.append("\(grouped(UInt64(rate)))/s")
            if rate > 0 && done < total { parts.append("\(clock(Double(total - done) / rate)) left") }
        } else {
            parts.append("\(grouped(done)) \(unit)")
            parts.append("\(grouped(UInt64(rate)))/s")
            parts.append(clock(seconds))
        }
        return parts.joined(separator: "  ")
    }

    /// 1234567 as "1 234 567".
    static func grouped(_ n: UInt64) -> String {
        let digits = String(n)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(" ") }
            out.append(c)
        }
        return out
    }

    /// Seconds as M:SS or H:MM:SS.
    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600
            ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
