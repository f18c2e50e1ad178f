import CDSIShims
import DSICore
import Foundation
import Glibc
import Logging

/// The handler's local admin socket (`admin.socket`): a Unix domain socket only its owner can open (mode 0600, and
/// each client's user checked with SO_PEERCRED: the handler's own user or root), answering one command per
/// connection: `status` or `reload`. Served by a thread of its own; a client gets two seconds to send its command.
public final class AdminServer: @unchecked Sendable {
    // @unchecked Sendable: the socket and commands are set in init; `stopping` is atomic; the thread owns the rest.
    public typealias Command = @Sendable () -> String

    public let path: String
    private let fd: Int32
    private let commands: [String: Command]
    private let stopping = StopFlag()
    private let finished = DispatchSemaphore(value: 0)
    private let logger: Logger
    /// Clients refused for their user id.
    public let refused = Counter()

    /// Binds `path`. A socket left there by a handler that died is replaced; one a running handler answers on is not.
    public init(path: String, commands: [String: Command], logger: Logger) throws {
        self.path = path
        self.commands = commands
        self.logger = logger
        // Its directory is made if missing (the state directory, at a first start), private to this user.
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try? FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        if FileManager.default.fileExists(atPath: path) {
            if let probe = try? Self.connect(path) {
                Glibc.close(probe)
                throw AdminError("admin socket \(path) is in use by a running handler (stop it, or give admin.socket)")
            }
            unlink(path)
        }
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw AdminError("admin socket: socket(): \(String(cString: strerror(errno)))") }
        do {
            var address = try Self.address(path)
            // Created 0600: no other user can connect, whatever the directory allows.
            let mask = umask(0o177)
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            umask(mask)
            guard bound == 0 else { throw AdminError("admin socket \(path): bind: \(String(cString: strerror(errno)))") }
            guard listen(fd, 8) == 0 else {
                throw AdminError("admin socket \(path): listen: \(String(cString: strerror(errno)))")
            }
            var timeout = timeval(tv_sec: 0, tv_usec: 200_000)  // the accept loop wakes to notice stop()
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    deinit { Glibc.close(fd) }

    public func start() {
        let thread = Thread { [self] in
            serve()
            finished.signal()
        }
        thread.name = "dsi-admin"
        thread.start()
    }

    /// Stops accepting, waits for the thread, removes the socket file.
    public func stop() {
        guard !stopping.isSet else { return }
        stopping.set()
        finished.wait()
        unlink(path)
    }

    private func serve() {
        while !stopping.isSet {
            let client = accept(fd, nil, nil)
            guard client >= 0 else { continue }  // the timeout, or an interrupted accept
            answer(client)
            Glibc.close(client)
        }
    }

    private func answer(_ client: Int32) {
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        // The command is read before anything is answered: a client refused while its command was unread would see
        // its connection reset rather than the refusal.
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while line.count < 64 {
            guard recv(client, &byte, 1, 0) == 1 else { break }
            if byte == UInt8(ascii: "\n") { break }
            line.append(byte)
        }
        var uid: UInt32 = 0
        guard CDSIShims_peer_uid(client, &uid) == 0 else { return }
        guard uid == geteuid() || uid == 0 else {
            refused.add()
            logger.warning("admin socket: refused a client of user \(uid) (only user \(geteuid()) and root may use it)")
            reply(client, "refused: user \(uid) may not use this handler's admin socket\n")
            return
        }
        let word = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let command = commands[word] else {
            reply(client, "unknown command '\(word.prefix(64))' (\(commands.keys.sorted().joined(separator: ", ")))\n")
            return
        }
        reply(client, command())
    }

    private func reply(_ client: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes {
                send(client, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
            }
            guard n > 0 else { return }
            offset += n
        }
        bytes.removeAll()
    }

    static func address(_ path: String) throws -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw AdminError("admin socket path \(path) is too long for a Unix socket")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return address
    }

    /// A connected client socket to `path` (what `dsi ctl` does).
    public static func connect(_ path: String) throws -> Int32 {
        let client = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard client >= 0 else { throw AdminError("socket(): \(String(cString: strerror(errno)))") }
        var address = try address(path)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(client, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(client)
            throw AdminError("cannot connect to \(path): \(reason)")
        }
        return client
    }

    /// Sends `command` to the handler at `path` and returns its whole answer.
    public static func ask(_ path: String, _ command: String, timeoutSeconds: Int = 30) throws -> String {
        let client = try connect(path)
        defer { Glibc.close(client) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let request = Array((command + "\n").utf8)
        guard request.withUnsafeBytes({ send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else {
            throw AdminError("cannot send to \(path): \(String(cString: strerror(errno)))")
        }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            if n < 0 { throw AdminError("no answer from \(path) within \(timeoutSeconds) s") }
            if n == 0 { break }
            answer += buffer[..<n]
        }
        return String(decoding: answer, as: UTF8.self)
    }
}

public struct AdminError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
