import DSICore
import Glibc

/// The publisher's journal of one stream day: every tick it published, in stream order, in a file `DIR/YYYYMMDD.dsij`
/// that is memory-mapped in preallocated segments. Stores into a shared mapping reach the page cache at once, so a
/// killed process loses nothing it journaled; `flush` starts the write-back that a crash of the machine needs.
///
/// Layout: a 4 KiB header (magic `DSIJRNL1`, version, record size, day, segment size), then 128-byte records, record
/// `i` holding stream sequence `i + 1`: the 112-byte binary tick, its CRC-32C, a marker. A record of zeros is the
/// end. At open, every record is checked (marker, checksum, kind, sequence); the first that fails ends the journal,
/// is reported with what follows it, and is cleared, so a damaged or torn tail is never served.
public final class Journal {
    public static let headerSize = 4_096
    public static let recordSize = 128
    static let magic: UInt64 = 0x314C_4E52_4A49_5344  // "DSIJRNL1" as little-endian bytes
    static let marker: UInt32 = 0x4A49_5344  // "DSIJ"
    static let version: UInt32 = 1

    public let path: String
    public let day: UInt32
    public let segmentBytes: Int
    /// Records held: the stream sequence of the last one (0: none).
    public private(set) var count: UInt64 = 0
    /// What the open found wrong, in words (nil: nothing).
    public private(set) var damage: String? = nil
    private let fd: Int32
    private var segments: [UnsafeMutableRawPointer] = []
    private var recordsPerSegment: Int { segmentBytes / Self.recordSize }

    /// Opens (creating it if absent) the journal of `day` in `directory`, checks every record, and hands each good
    /// one to `restore` in order.
    public init(directory: String, day: UInt32, segmentBytes: Int = 64 << 20, restore: (Tick) -> Void) throws {
        precondition(segmentBytes % 4_096 == 0 && segmentBytes % Self.recordSize == 0)
        self.day = day
        self.segmentBytes = segmentBytes
        path = "\(directory)/\(day).dsij"
        try Self.makeDirectory(directory)
        fd = try FileCalls.open(path, flags: O_RDWR | O_CREAT)
        do {
            try open(restore: restore)
        } catch {
            for s in segments { FileCalls.unmap(s, count: segmentBytes) }
            Glibc.close(fd)
            throw error
        }
    }

    deinit {
        for s in segments {
            FileCalls.flushAsync(s, count: segmentBytes)
            FileCalls.unmap(s, count: segmentBytes)
        }
        Glibc.close(fd)
    }

    private func open(restore: (Tick) -> Void) throws {
        let size = try FileCalls.size(fd, path)
        if size == 0 {
            try FileCalls.allocate(fd, path, bytes: Self.headerSize)
            let header = try FileCalls.map(fd, path, offset: 0, count: Self.headerSize)
            Self.writeHeader(header, day: day, segmentBytes: segmentBytes)
            FileCalls.unmap(header, count: Self.headerSize)
        } else {
            guard size >= Self.headerSize else {
                throw JournalError(path, "is \(size) bytes, shorter than a journal's header: not a DSI journal")
            }
            let header = try FileCalls.map(fd, path, offset: 0, count: Self.headerSize)
            defer { FileCalls.unmap(header, count: Self.headerSize) }
            if let problem = Self.checkHeader(header, day: day, segmentBytes: segmentBytes) {
                throw JournalError(path, problem)
            }
            let whole = (size - Self.headerSize) / segmentBytes
            let partial = (size - Self.headerSize) % segmentBytes
            if partial != 0 {
                damage = "is \(size) bytes, not a whole number of \(segmentBytes >> 20) MiB segments: it was truncated"
            }
            for _ in 0..<(whole + (partial != 0 ? 1 : 0)) { try addSegment() }
        }
        // Check every record up to the first empty one.
        var index = 0
        while index < segments.count * recordsPerSegment {
            let p = record(index)
            if Self.isEmpty(p) { break }
            if let problem = Self.check(p, streamSeq: UInt64(index + 1)) {
                let cleared = clear(from: index)
                let note =
                    "record \(index + 1) \(problem): the journal ends at stream sequence \(index)"
                    + (cleared > 1 ? "; \(cleared - 1) records after it are discarded" : "")
                damage = damage.map { "\($0); \(note)" } ?? note
                break
            }
            restore(Tick(wire: p)!)
            index += 1
        }
        count = UInt64(index)
    }

    /// Appends `tick` (numbered `count + 1`) as the next record, growing the file by a segment when full.
    public func append(_ tick: Tick) throws {
        let index = Int(count)
        if index == segments.count * recordsPerSegment { try addSegment() }
        let p = record(index)
        tick.write(to: p)
        p.storeBytes(of: CRC32C.checksum(p, count: Tick.wireSize).littleEndian, toByteOffset: 112, as: UInt32.self)
        // The marker last: a record torn by a kill in the middle fails its check at the next open.
        p.storeBytes(of: Self.marker.littleEndian, toByteOffset: 116, as: UInt32.self)
        count += 1
    }

    /// The tick of stream sequence `streamSeq` (1...count).
    public func tick(_ streamSeq: UInt64) -> Tick {
        precondition(streamSeq >= 1 && streamSeq <= count)
        return Tick(wire: record(Int(streamSeq - 1)))!  // checked at open or written by this process
    }

    /// Starts writing the mapped pages back to disk (returns at once).
    public func flush() { for s in segments { FileCalls.flushAsync(s, count: segmentBytes) } }

    private func record(_ index: Int) -> UnsafeMutableRawPointer {
        segments[index / recordsPerSegment] + (index % recordsPerSegment) * Self.recordSize
    }

    /// Allocates (on disk, not as a hole) and maps the next segment.
    private func addSegment() throws {
        let offset = Self.headerSize + segments.count * segmentBytes
        try FileCalls.allocate(fd, path, bytes: offset + segmentBytes)
        segments.append(try FileCalls.map(fd, path, offset: offset, count: segmentBytes))
    }

    /// Zeroes records from `index` to the first empty one; returns how many were cleared.
    private func clear(from index: Int) -> Int {
        var i = index
        while i < segments.count * recordsPerSegment && !Self.isEmpty(record(i)) {
            record(i).initializeMemory(as: UInt8.self, repeating: 0, count: Self.recordSize)
            i += 1
        }
        return i - index
    }

    static func isEmpty(_ p: UnsafeRawPointer) -> Bool {
        p.load(fromByteOffset: 0, as: UInt64.self) == 0 && p.loadUnaligned(fromByteOffset: 112, as: UInt64.self) == 0
    }

    /// Why the record at `p` cannot be stream sequence `streamSeq`, or nil.
    static func check(_ p: UnsafeRawPointer, streamSeq: UInt64) -> String? {
        if UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 116, as: UInt32.self)) != marker {
            return "is incomplete (no end marker: torn by a stop in the middle of a write)"
        }
        if UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 112, as: UInt32.self))
            != CRC32C.checksum(p, count: Tick.wireSize)
        {
            return "fails its checksum"
        }
        guard let tick = Tick(wire: p) else { return "holds an unknown tick kind" }
        if tick.streamSeq != streamSeq { return "holds stream sequence \(tick.streamSeq), not \(streamSeq)" }
        return nil
    }

    static func writeHeader(_ p: UnsafeMutableRawPointer, day: UInt32, segmentBytes: Int) {
        p.storeBytes(of: magic.littleEndian, toByteOffset: 0, as: UInt64.self)
        p.storeBytes(of: version.littleEndian, toByteOffset: 8, as: UInt32.self)
        p.storeBytes(of: UInt32(recordSize).littleEndian, toByteOffset: 12, as: UInt32.self)
        p.storeBytes(of: day.littleEndian, toByteOffset: 16, as: UInt32.self)
        p.storeBytes(of: UInt64(segmentBytes).littleEndian, toByteOffset: 24, as: UInt64.self)
    }

    /// Why the header at `p` is not one this code reads (with `day` and `segmentBytes` when given), or nil.
    static func checkHeader(_ p: UnsafeRawPointer, day: UInt32?, segmentBytes: Int?) -> String? {
        guard UInt64(littleEndian: p.load(fromByteOffset: 0, as: UInt64.self)) == magic else {
            return "does not start with DSIJRNL1: not a DSI journal"
        }
        let v = UInt32(littleEndian: p.load(fromByteOffset: 8, as: UInt32.self))
        guard v == version else { return "is a version \(v) journal (this dsi reads version \(version))" }
        guard UInt32(littleEndian: p.load(fromByteOffset: 12, as: UInt32.self)) == recordSize else {
            return "has records of another size"
        }
        let d = UInt32(littleEndian: p.load(fromByteOffset: 16, as: UInt32.self))
        if let day, d != day { return "is the journal of day \(d), not \(day)" }
        // Read as it is stored: a damaged header may hold any 64 bits here.
        let s = UInt64(littleEndian: p.load(fromByteOffset: 24, as: UInt64.self))
        if let segmentBytes, s != UInt64(segmentBytes) { return "has segments of \(s) bytes, not \(segmentBytes)" }
        return nil
    }

    static func makeDirectory(_ directory: String) throws {
        var prefixes: [String] = []
        for (i, c) in directory.enumerated() where c == "/" && i > 0 { prefixes.append(String(directory.prefix(i))) }
        for path in prefixes + [directory] where mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw JournalError(directory, "cannot be created (\(path): \(String(cString: strerror(errno))))")
        }
    }

    /// Removes the journals in `directory` of days before the last `keep` (by the day in their names); returns the
    /// files removed.
    public static func prune(directory: String, keep: Int, today: UInt32) throws -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var days: [UInt32] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.hasSuffix(".dsij"), let day = UInt32(name.dropLast(5)), name.count == 13 else { continue }
            days.append(day)
        }
        let kept = Set(days.filter { $0 <= today }.sorted().suffix(max(1, keep)) + days.filter { $0 > today })
        var removed: [String] = []
        for day in days where !kept.contains(day) {
            let path = "\(directory)/\(day).dsij"
            try FileCalls.remove(path)
            removed.append(path)
        }
        return removed
    }

    /// Reads a journal file without changing it (`dsi journal`): hands each good record to `onTick` in order and
    /// returns what is wrong with the rest, in words (nil: nothing).
    public static func audit(path: String, onTick: (Tick) -> Void) throws -> String? {
        let fd = try FileCalls.open(path, flags: O_RDONLY)
        defer { Glibc.close(fd) }
        let size = try FileCalls.size(fd, path)
        guard size >= headerSize else { throw JournalError(path, "is \(size) bytes, shorter than a journal's header") }
        guard let base = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), base != MAP_FAILED else {
            throw SystemError("mmap(\(path), \(size) bytes)", errno: errno)
        }
        defer { munmap(base, size) }
        if let problem = checkHeader(base, day: nil, segmentBytes: nil) { throw JournalError(path, problem) }
        let segment = Int(exactly: UInt64(littleEndian: base.load(fromByteOffset: 24, as: UInt64.self))) ?? 0
        var damage: String? = nil
        if segment <= 0 || (size - headerSize) % segment != 0 {
            damage = "is \(size) bytes, not a whole number of segments: it was truncated"
        }
        let records = (size - headerSize) / recordSize
        for index in 0..<records {
            let p = UnsafeRawPointer(base) + headerSize + index * recordSize
            if isEmpty(p) { break }
            if let problem = check(p, streamSeq: UInt64(index + 1)) {
                let note = "record \(index + 1) \(problem): the journal ends at stream sequence \(index)"
                return damage.map { "\($0); \(note)" } ?? note
            }
            onTick(Tick(wire: p)!)
        }
        return damage
    }

    /// Today's date in UTC as YYYYMMDD: the day a journal opened now belongs to.
    public static func today(now: time_t = time(nil)) -> UInt32 {
        var t = now
        var parts = tm()
        gmtime_r(&t, &parts)
        return UInt32(parts.tm_year + 1900) * 10_000 + UInt32(parts.tm_mon + 1) * 100 + UInt32(parts.tm_mday)
    }
}

/// A journal that cannot be opened or read, naming the file.
public struct JournalError: Error, CustomStringConvertible {
    public let path: String
    public let problem: String
    public init(_ path: String, _ problem: String) {
        self.path = path
        self.problem = problem
    }
    public var description: String { "journal \(path) \(problem)" }
}
