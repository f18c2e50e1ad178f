import Foundation
import Logging

/// Log lines (swift-log) collected for a test to read and count, each as "level message".
public final class LogCapture: @unchecked Sendable {
    // @unchecked Sendable: every access holds the lock.
    private let lock = NSLock()
    private var lines: [String] = []

    public init() {}

    public var all: [String] {
        lock.lock()
        defer { lock.unlock() }
        return lines
    }

    /// A logger whose lines at `level` and above land here.
    public func logger(level: Logger.Level = .info) -> Logger {
        var logger = Logger(label: "capture") { _ in Handler(capture: self) }
        logger.logLevel = level
        return logger
    }

    func append(_ line: String) {
        lock.lock()
        lines.append(line)
        lock.unlock()
    }

    struct Handler: LogHandler {
        let capture: LogCapture
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) { capture.append("\(event.level) \(event.message)") }
    }
}
