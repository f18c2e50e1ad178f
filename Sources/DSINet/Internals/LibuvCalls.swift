import CUV

// Every libuv call whose result matters goes through here: a negative status becomes a `LibuvError` naming the call
// and what it was for, with libuv's reason. (Calls that cannot fail, like `uv_close` or `uv_buf_init`, and `uv_run`,
// whose result only says whether handles remain, are made directly.)

/// A failed libuv call: what was being done, libuv's name for the error and its reason.
public struct LibuvError: Error, CustomStringConvertible, Equatable {
    public let what: String
    public let code: Int32
    public var reason: String { String(cString: uv_strerror(code)) }
    public var description: String { "\(what): \(reason)" }
}

enum Libuv {
    /// Throws when `status` is negative; returns it otherwise (some calls return a count).
    @discardableResult
    static func check(_ what: @autoclosure () -> String, _ status: Int32) throws -> Int32 {
        if status < 0 { throw LibuvError(what: what(), code: status) }
        return status
    }

    /// For callbacks, which cannot throw: the error, or nil when `status` is not negative.
    static func failure(_ what: @autoclosure () -> String, _ status: Int32) -> LibuvError? {
        status < 0 ? LibuvError(what: what(), code: status) : nil
    }
}
