import DSICore
import Glibc

// The file calls the journal makes, each checked through the same wrappers as the socket calls (`syscall`): a failure
// names the call, the file and errno.

enum FileCalls {
    static func open(_ path: String, flags: Int32, mode: mode_t = 0o644) throws -> Int32 {
        try syscall("open(\(path))") { Glibc.open(path, flags | O_CLOEXEC, mode) }
    }

    static func size(_ fd: Int32, _ path: String) throws -> Int {
        var st = stat()
        try syscall("fstat(\(path))") { fstat(fd, &st) }
        return Int(st.st_size)
    }

    /// Gives the file `bytes` of allocated blocks (not a sparse hole: a full disk fails here, not at a later store
    /// into the mapping, which would be a SIGBUS).
    static func allocate(_ fd: Int32, _ path: String, bytes: Int) throws {
        let r = posix_fallocate(fd, 0, off_t(bytes))
        if r != 0 { throw SystemError("posix_fallocate(\(path), \(bytes) bytes)", errno: r) }
    }

    /// Maps `count` bytes of the file from `offset`, shared (stores reach the file, and survive the process).
    static func map(_ fd: Int32, _ path: String, offset: Int, count: Int) throws -> UnsafeMutableRawPointer {
        guard let p = mmap(nil, count, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off_t(offset)), p != MAP_FAILED else {
            throw SystemError("mmap(\(path), \(count) bytes at \(offset))", errno: errno)
        }
        return p
    }

    static func unmap(_ p: UnsafeMutableRawPointer, count: Int) { munmap(p, count) }

    /// Starts writing dirty pages back (returns at once): what a crash of the machine, not just the process, keeps.
    static func flushAsync(_ p: UnsafeMutableRawPointer, count: Int) { msync(p, count, MS_ASYNC) }

    static func remove(_ path: String) throws { try syscall("unlink(\(path))") { unlink(path) } }
}
