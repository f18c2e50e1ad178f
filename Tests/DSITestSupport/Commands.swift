import Foundation

/// Runs commands for tests: `dsi` itself (built next to the test bundle), and the independent tools the tests hold
/// DSI's output against.
public enum Commands {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// The project root (the test command exports DSI_ROOT; otherwise found from this file's path).
    public static var root: String {
        if let root = ProcessInfo.processInfo.environment["DSI_ROOT"], !root.isEmpty { return root }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }

    /// The `dsi` binary of this build: it sits next to the test bundle.
    public static var dsi: String {
        let bundleDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let beside = bundleDirectory.appendingPathComponent("dsi").path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        return root + "/.build/debug/dsi"
    }

    /// The Python of the oracles' venv (tools/setup.sh --test makes it).
    public static var python: String { root + "/.venv/bin/python" }
    /// Debian's own Python (not a pyenv or venv one ahead of it on PATH): the one `apt install python3-protobuf`
    /// gives the protobuf package to, which the Python client needs for the protobuf encoding.
    public static let debianPython = "/usr/bin/python3"
    /// The Python client of the publish protocol (tools/clients/python), an implementation DSI's Swift code is not.
    public static var pythonClient: String { root + "/tools/clients/python/dsi_client.py" }

    /// Runs `executable` with `arguments`, waits at most `timeout` seconds (then kills it), returns its output.
    @discardableResult
    public static func run(
        _ executable: String, _ arguments: [String], timeout: Double = 120,
        environment: [String: String] = [:]
    ) throws -> Result {
        let process = try start(executable, arguments, environment: environment)
        return try process.wait(timeout: timeout)
    }

    public static func start(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> Running {
        let process = Process()
        if executable.contains("/") {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [executable] + arguments
        }
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let running = Running(process: process, out: out, err: err)
        try process.run()
        running.startReading()
        return running
    }

    /// A started process whose output is collected in the background (so a chatty child never blocks on a pipe).
    public final class Running: @unchecked Sendable {
        // @unchecked Sendable: the buffers are guarded by `lock`.
        public let process: Process
        let out: Pipe
        let err: Pipe
        let lock = NSLock()
        var stdoutData = Data()
        var stderrData = Data()
        var readers: [BackgroundThread] = []

        init(process: Process, out: Pipe, err: Pipe) {
            self.process = process
            self.out = out
            self.err = err
        }

        func startReading() {
            for (pipe, isOut) in [(out, true), (err, false)] {
                readers.append(
                    BackgroundThread { [self] in
                        let data = pipe.fileHandleForReading.readDataToEndOfFile()
                        lock.lock()
                        if isOut { stdoutData = data } else { stderrData = data }
                        lock.unlock()
                    })
            }
        }

        /// Sends a signal (SIGTERM by default).
        public func signal(_ signal: Int32 = SIGTERM) { kill(process.processIdentifier, signal) }

        public func wait(timeout: Double) throws -> Result {
            let deadline = Date().addingTimeInterval(timeout)
            while process.isRunning && Date() < deadline { usleep(10_000) }
            if process.isRunning {
                process.terminate()
                usleep(200_000)
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                process.waitUntilExit()
                readers.forEach { $0.join() }
                throw TimedOut(
                    command: ([process.executableURL?.path ?? "?"] + (process.arguments ?? [])).joined(separator: " "),
                    stderr: String(decoding: stderrData, as: UTF8.self))
            }
            process.waitUntilExit()
            readers.forEach { $0.join() }
            lock.lock()
            defer { lock.unlock() }
            return Result(
                status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
                stderr: String(decoding: stderrData, as: UTF8.self))
        }
    }

    public struct TimedOut: Error, CustomStringConvertible {
        public let command: String
        public let stderr: String
        public init(command: String, stderr: String) {
            self.command = command
            self.stderr = stderr
        }
        public var description: String { "timed out: \(command)\n\(stderr)" }
    }
}

/// A fresh directory under /tmp, removed by `remove()`.
public struct TemporaryDirectory {
    public let path: String
    public init(_ label: String = "dsi-test") throws {
        path = NSTemporaryDirectory() + "\(label)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    public func file(_ name: String) -> String { path + "/" + name }
    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Parses JSON lines into dictionaries.
public func jsonLines(_ text: String) throws -> [[String: Any]] {
    try text.split(separator: "\n").map { line in
        guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw NotJSONObject(line: String(line))
        }
        return object
    }
}

public struct NotJSONObject: Error { public let line: String }

/// Runs blocking work on a thread of its own. Blocking calls on Dispatch's global queues starve its small pool
/// (the test runner's own tasks included): a recvfrom or a pipe read parked there can hold others up for seconds.
public final class BackgroundThread: @unchecked Sendable {
    // @unchecked Sendable: only the semaphore is shared.
    private let done = DispatchSemaphore(value: 0)

    public init(_ body: @escaping @Sendable () -> Void) {
        let thread = Thread { [done] in
            body()
            done.signal()
        }
        thread.start()
    }

    /// Waits for the body to return.
    public func join() {
        done.wait()
        done.signal()
    }
}

/// A tick's JSON with keys sorted, so that two sources compare as text.
public func canonical(_ object: [String: Any]) throws -> String {
    String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
}

/// A tick's JSON as two runs of the same capture must agree on it: canonical, with the receive time (this host's
/// clock, not the capture's) zeroed.
public func comparable(_ object: [String: Any]) throws -> String {
    var tick = object
    tick["receiveTime"] = 0
    return try canonical(tick)
}
