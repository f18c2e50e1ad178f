import DSICore
import Foundation
import Testing

/// Where a ring's memory comes from: reserved huge pages when the pool (`vm.nr_hugepages`) has them, ordinary pages
/// with transparent huge pages asked for when it does not, and small pages for small rings. The pool is the
/// machine's: the test grows it for itself and puts it back.
@Suite(.serialized) struct RingMemoryTests {
    static let pool = "/proc/sys/vm/nr_hugepages"

    func freeHugePages() -> Int {
        let info = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        let line = info.split(separator: "\n").first { $0.hasPrefix("HugePages_Free:") } ?? ""
        return Int(line.split(separator: " ").last ?? "") ?? 0
    }

    func setPool(_ pages: Int) throws {
        try "\(pages)\n".write(toFile: Self.pool, atomically: false, encoding: .utf8)
    }

    @Test func takesReservedHugePagesWhenThePoolHasThemAndFallsBackWhenNot() throws {
        let original = Int(
            (try String(contentsOfFile: Self.pool, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines))!
        let writable = access(Self.pool, W_OK) == 0 && (try? setPool(original)) != nil
        try #require(writable, "this test grows the huge page pool and needs root (\(Self.pool))")
        defer { try? setPool(original) }

        // A pool with nothing free: ordinary pages, transparent huge pages asked for.
        if freeHugePages() == 0 {
            let plain = RingMemory(byteCount: 4 << 20)
            let (reserved, huge) = (plain.reservedHugePages, plain.hugePages)
            #expect(!reserved)
            #expect(huge, "madvise(MADV_HUGEPAGE) is allowed unless THP is compiled out")
        }

        try setPool(original + 32)
        let free = freeHugePages()
        try #require(free >= 2, "the kernel found no 2 MiB pages to add to the pool (memory too fragmented)")
        do {
            let block = RingMemory(byteCount: 4 << 20)
            let (reserved, huge, size) = (block.reservedHugePages, block.hugePages, block.byteCount)
            #expect(reserved && huge)
            #expect(size == 4 << 20)
            // Reserved at mmap and faulted in by the pre-touch: the pool's free count is down by the block.
            #expect(freeHugePages() <= free - 2, "\(freeHugePages()) of \(free) still free")
            // Zeroed and writable to the last byte.
            #expect(block.base.load(fromByteOffset: block.byteCount - 8, as: UInt64.self) == 0)
            block.base.storeBytes(of: 0xdead_beef, toByteOffset: block.byteCount - 8, as: UInt64.self)
        }
        #expect(freeHugePages() >= free, "freed back to the pool")

        // Small blocks never take huge pages; a ring's own accessors say what it got.
        let small = RingMemory(byteCount: 64 << 10)
        let (smallHuge, smallReserved) = (small.hugePages, small.reservedHugePages)
        #expect(!smallHuge && !smallReserved)
        let ring = SPSCRing(capacity: 4_096, slotSize: 1_024)
        #expect(ring.reservedHugePages)
    }
}
