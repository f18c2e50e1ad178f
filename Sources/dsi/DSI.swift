import ArgumentParser
import Atomics
import Glibc
import Logging

@main
struct DSI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dsi",
        abstract: "A low-latency market-data feed handler: ITCH 5.0 over MoldUDP64 in, normalized ticks out over TLS 1.3.",
        subcommands: [
            Demo.self, Run.self, Gen.self, Replay.self, Record.self, Subscribe.self, Decode.self, Ticks.self, JournalPrint.self,
            Certs.self,
            Bench.self, Ctl.self,
        ])
}

/// Options every command shares.
struct GlobalOptions: ParsableArguments {
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func logger(_ label: String) -> Logger {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingBootstrap.once(level: level)
        return Logger(label: label)
    }
}

enum LoggingBootstrap {
    nonisolated(unsafe) static var done = false
    static func once(level: Logger.Level) {
        guard !done else { return }
        done = true
        LogLevelSwitch.set(level)
        LoggingSystem.bootstrap { label in SwitchedLogHandler(inner: StreamLogHandler.standardError(label: label)) }
    }
}

/// The process's log level, shared by every logger, so that `dsi run` can change it while running (the config's
/// `logLevel`, on a reload).
enum LogLevelSwitch {
    private static let levels = Logger.Level.allCases
    private static let current = ManagedAtomic<Int>(Logger.Level.allCases.firstIndex(of: .info)!)

    static var level: Logger.Level { levels[current.load(ordering: .relaxed)] }
    static func set(_ level: Logger.Level) { current.store(levels.firstIndex(of: level)!, ordering: .relaxed) }
}

/// Standard error, at the level `LogLevelSwitch` holds now.
struct SwitchedLogHandler: LogHandler {
    var inner: StreamLogHandler
    var logLevel: Logger.Level {
        get { LogLevelSwitch.level }
        set { LogLevelSwitch.set(newValue) }
    }
    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }
    func log(event: LogEvent) { inner.log(event: event) }
}

/// Turns an error from below into a one-line message and exit code 1 (never a stack trace for bad input).
func failing<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as ExitCode {
        throw error
    } catch let error as ValidationError {
        throw error
    } catch {
        FileHandleStderr.write("dsi: error: \(error)\n")
        throw ExitCode.failure
    }
}

enum FileHandleStderr {
    static func write(_ text: String) {
        var copy = text
        copy.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
