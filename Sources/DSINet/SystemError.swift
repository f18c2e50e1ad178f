import DSICore
import Glibc

/// A failed system call: its name and errno, with the system's text for it.
public struct SystemError: Error, CustomStringConvertible, Equatable {
    public let call: String
    public let errno: Int32
    public init(_ call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }
    public var description: String { "\(call): \(String(cString: strerror(errno))) (errno \(errno))" }
}

/// Every raw socket call goes through here: retries `EINTR`, turns -1 into a `SystemError` naming the call.
@discardableResult
func syscall(_ name: String, _ body: () -> Int32) throws -> Int32 {
    while true {
        let result = body()
        if result >= 0 { return result }
        let code = Glibc.errno
        if code == EINTR { continue }
        throw SystemError(name, errno: code)
    }
}

/// A setsockopt of a plain value.
func setOption<T: BitwiseCopyable>(_ fd: Int32, _ level: Int32, _ option: Int32, _ value: T, _ name: String) throws {
    var v = value
    try syscall("setsockopt(\(name))") { setsockopt(fd, level, option, &v, socklen_t(MemoryLayout<T>.size)) }
}

extension sockaddr_in {
    init(_ endpoint: IPv4Endpoint) {
        self.init()
        sin_family = sa_family_t(AF_INET)
        sin_port = endpoint.port.bigEndian
        sin_addr = in_addr(s_addr: endpoint.address.value.bigEndian)
    }
}
