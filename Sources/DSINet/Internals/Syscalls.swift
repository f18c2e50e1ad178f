import CDSIShims
import DSICore
import Glibc

// Every raw socket call DSI makes, in one place (as swift-system keeps its in `Internals/Syscalls.swift`): each
// retries EINTR, turns "would block" into a value where the caller must expect it, and reports any other failure as
// a `SystemError` that names the call and its arguments. No other file calls these functions directly.

/// A failed system call: its name (with its arguments) and errno, with the system's text for it.
public struct SystemError: Error, CustomStringConvertible, Equatable {
    public let call: String
    public let errno: Int32
    public init(_ call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }
    public var description: String { "\(call): \(String(cString: strerror(errno))) (errno \(errno))" }
}

/// Runs a call that returns -1 and sets errno on failure: retries EINTR, throws anything else.
@discardableResult
func syscall<R: BinaryInteger>(_ name: @autoclosure () -> String, _ body: () -> R) throws -> R {
    try retrying(name, wouldBlock: false, body)!
}

/// Runs a call that would block (EAGAIN, EWOULDBLOCK): nil then, the result otherwise; throws other failures.
func nonBlocking<R: BinaryInteger>(_ name: @autoclosure () -> String, _ body: () -> R) throws -> R? {
    try retrying(name, wouldBlock: true, body)
}

/// Calls `body` until it is not interrupted. "Would block" is nil when `wouldBlock` expects it, decided before any
/// error is made: a full socket buffer on the pipeline thread costs no message text and no throw.
private func retrying<R: BinaryInteger>(_ name: () -> String, wouldBlock: Bool, _ body: () -> R) throws -> R? {
    while true {
        let result = body()
        if result >= 0 { return result }
        let code = Glibc.errno
        if code == EINTR { continue }
        if wouldBlock && (code == EAGAIN || code == EWOULDBLOCK) { return nil }
        throw SystemError(name(), errno: code)
    }
}

/// A shim function's result, which is 0 (or a count) on success and -errno on failure, as a throw.
@discardableResult
func shimCall(_ name: @autoclosure () -> String, _ result: Int32) throws -> Int32 {
    if result < 0 { throw SystemError(name(), errno: -result) }
    return result
}

/// `package`: the tools module (DSITools) opens sockets through these too.
package enum Socket {
    /// A new socket (close-on-exec), optionally non-blocking.
    package static func open(_ type: __socket_type, nonBlocking: Bool = false) throws -> Int32 {
        let flags = Int32(SOCK_CLOEXEC.rawValue) | (nonBlocking ? Int32(SOCK_NONBLOCK.rawValue) : 0)
        return try syscall("socket(AF_INET, \(type == SOCK_STREAM ? "SOCK_STREAM" : "SOCK_DGRAM"))") {
            socket(AF_INET, Int32(type.rawValue) | flags, 0)
        }
    }

    /// A setsockopt of a plain value.
    package static func setOption<T: BitwiseCopyable>(_ fd: Int32, _ level: Int32, _ option: Int32, _ value: T, _ name: String)
        throws
    {
        var v = value
        try syscall("setsockopt(\(name))") { setsockopt(fd, level, option, &v, socklen_t(MemoryLayout<T>.size)) }
    }

    /// A getsockopt of a plain value.
    static func option<T: BitwiseCopyable>(_ fd: Int32, _ level: Int32, _ option: Int32, as: T.Type, _ name: String) throws -> T {
        let value = UnsafeMutablePointer<T>.allocate(capacity: 1)
        defer { value.deallocate() }
        var length = socklen_t(MemoryLayout<T>.size)
        try syscall("getsockopt(\(name))") { getsockopt(fd, level, option, value, &length) }
        return value.pointee
    }

    package static func bind(_ fd: Int32, _ endpoint: IPv4Endpoint) throws {
        _ = try withSocketAddress(endpoint) { address, length in
            try syscall("bind(\(endpoint))") { Glibc.bind(fd, address, length) }
        }
    }

    static func connect(_ fd: Int32, _ endpoint: IPv4Endpoint) throws {
        _ = try withSocketAddress(endpoint) { address, length in
            try syscall("connect(\(endpoint))") { Glibc.connect(fd, address, length) }
        }
    }

    /// Asks for a receive buffer of `bytes`, past `net.core.rmem_max` when the process may (CAP_NET_ADMIN), and
    /// returns what the kernel granted (read back: it reports twice the usable size).
    static func setReceiveBuffer(_ fd: Int32, _ bytes: Int) throws -> Int {
        let asked = Int32(clamping: bytes)
        if (try? setOption(fd, SOL_SOCKET, CDSIShims_SO_RCVBUFFORCE(), asked, "SO_RCVBUFFORCE")) == nil {
            try setOption(fd, SOL_SOCKET, SO_RCVBUF, asked, "SO_RCVBUF")
        }
        return Int(try option(fd, SOL_SOCKET, SO_RCVBUF, as: Int32.self, "SO_RCVBUF")) / 2
    }

    /// The address `fd` is bound to.
    package static func localEndpoint(_ fd: Int32) throws -> IPv4Endpoint {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = try withUnsafeMutablePointer(to: &address) { p in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                try syscall("getsockname") { getsockname(fd, sa, &length) }
            }
        }
        return IPv4Endpoint(address)
    }

    /// Sends one datagram to `endpoint`; nil when the socket's buffer is full.
    static func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, to endpoint: IPv4Endpoint) throws -> Int? {
        try withSocketAddress(endpoint) { address, length in
            try nonBlocking("sendto(\(endpoint))") { sendto(fd, bytes.baseAddress, bytes.count, 0, address, length) }
        }
    }

    /// Sends on a connected socket; nil when its buffer is full.
    static func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, _ what: @autoclosure () -> String) throws -> Int? {
        try nonBlocking("send(\(what()))") { Glibc.send(fd, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT)) }
    }

    /// Receives one datagram into `buffer` and who sent it; nil when none is waiting (or a receive timeout passed).
    static func receive(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws -> (count: Int, from: IPv4Endpoint)? {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let n = try withUnsafeMutablePointer(to: &address) { p in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                try nonBlocking("recvfrom") { recvfrom(fd, buffer.baseAddress, buffer.count, 0, sa, &length) }
            }
        }
        return n.map { ($0, IPv4Endpoint(address)) }
    }

    /// Listens on a bound stream socket.
    package static func listen(_ fd: Int32, backlog: Int32) throws {
        try syscall("listen") { Glibc.listen(fd, backlog) }
    }

    /// The next connection (close-on-exec), or nil when none came within the socket's receive timeout.
    package static func accept(_ fd: Int32) throws -> Int32? {
        guard let client = try nonBlocking("accept", { Glibc.accept(fd, nil, nil) }) else { return nil }
        _ = fcntl(client, F_SETFD, FD_CLOEXEC)  // accept4 is GNU-only: Glibc's module does not export it
        return client
    }

    /// Reads what a connected socket has into `buffer`: the count (0 at the peer's end), nil when nothing came
    /// within the receive timeout.
    package static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws -> Int? {
        try nonBlocking("recv") { recv(fd, buffer.baseAddress, buffer.count, 0) }
    }

    /// Writes all of `bytes` to a connected socket (blocking, within its send timeout); false if the peer went away
    /// or the timeout passed first.
    package static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                offset += n
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                return false
            }
        }
        return true
    }

    /// Sets a send timeout: a peer that stops reading cannot hold the writer for longer.
    package static func setSendTimeout(_ fd: Int32, nanos: UInt64) throws {
        try setOption(
            fd, SOL_SOCKET, SO_SNDTIMEO,
            timeval(tv_sec: Int(nanos / 1_000_000_000), tv_usec: Int(nanos % 1_000_000_000 / 1_000)), "SO_SNDTIMEO")
    }

    /// Sets a receive timeout, so that a blocking receive returns (nil) to let its caller look at a stop condition.
    package static func setReceiveTimeout(_ fd: Int32, nanos: UInt64) throws {
        try setOption(
            fd, SOL_SOCKET, SO_RCVTIMEO,
            timeval(tv_sec: Int(nanos / 1_000_000_000), tv_usec: Int(nanos % 1_000_000_000 / 1_000)), "SO_RCVTIMEO")
    }
}

/// Lends `endpoint` as a `sockaddr` and its length, for the duration of `body`.
func withSocketAddress<R>(_ endpoint: IPv4Endpoint, _ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) rethrows -> R {
    var address = sockaddr_in(endpoint)
    return try withUnsafePointer(to: &address) { p in
        try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
}

extension sockaddr_in {
    init(_ endpoint: IPv4Endpoint) {
        self.init()
        sin_family = sa_family_t(AF_INET)
        sin_port = endpoint.port.bigEndian
        sin_addr = in_addr(s_addr: endpoint.address.value.bigEndian)
    }
}

extension IPv4Endpoint {
    init(_ address: sockaddr_in) {
        self.init(address: IPv4Address(UInt32(bigEndian: address.sin_addr.s_addr)), port: UInt16(bigEndian: address.sin_port))
    }
}
