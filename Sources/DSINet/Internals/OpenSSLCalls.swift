import COpenSSL

// Every OpenSSL call whose result matters goes through here: OpenSSL reports success as 1 (a few calls: > 0) or a
// non-null pointer, and the reason for a failure in the thread's error queue, which `TLSError.openssl` drains. (The
// record-layer calls, SSL_read / SSL_write / SSL_do_handshake, are judged with SSL_get_error where they are made.)
enum OpenSSL {
    /// Throws a `TLSError` with OpenSSL's reason unless `result` is 1.
    static func check(_ what: @autoclosure () -> String, _ result: Int32) throws {
        guard result == 1 else { throw TLSError.openssl(what()) }
    }

    /// Throws unless `result` is positive (calls that return a length or a count).
    static func checkPositive(_ what: @autoclosure () -> String, _ result: Int32) throws {
        guard result > 0 else { throw TLSError.openssl(what()) }
    }

    /// The object OpenSSL made, or a `TLSError` with its reason.
    static func made<T>(_ what: @autoclosure () -> String, _ object: T?) throws -> T {
        guard let object else { throw TLSError.openssl(what()) }
        return object
    }
}
