// libFuzzer target: a journal file as the publisher finds it at start (or `dsi journal` audits it): header, records,
// damage anywhere. Written to a scratch file, audited, then opened for writing.
import DSICore
import DSINet
import Glibc

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let dir = "/tmp/dsi-fuzz-journal-\(getpid())"
    mkdir(dir, 0o755)
    let path = "\(dir)/20261130.dsij"
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { return 0 }
    var written = 0
    while written < size {
        let n = write(fd, data + written, size - written)
        if n <= 0 { break }
        written += n
    }
    close(fd)
    var audited: UInt64 = 0
    _ = try? Journal.audit(path: path) { tick in
        audited += 1
        precondition(tick.streamSeq == audited, "only records in sequence are served")
    }
    var restored: UInt64 = 0
    if let journal = try? Journal(directory: dir, day: 20_261_130, segmentBytes: 64 << 10, restore: { _ in restored += 1 }) {
        precondition(journal.count == restored)
        var next = Tick(kind: .quote)
        next.streamSeq = journal.count + 1
        try? journal.append(next)
    }
    unlink(path)
    return 0
}
