import ArgumentParser
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
            Bench.self,
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
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
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
