import CDSIShims
import CNuma
import Glibc

/// A block of memory for a ring: on a chosen NUMA node when libnuma is usable, huge-page backed when large enough and
/// the kernel allows it, and pre-touched so that no page fault lands on the hot path. Freed when the owner goes away.
///
/// A block of 2 MiB or more takes reserved huge pages (`MAP_HUGETLB`, the pool of `vm.nr_hugepages`, what a
/// Kubernetes pod's `hugepages-2Mi` resource grants) when the pool has them: those are never split, swapped or
/// compacted. Otherwise it asks for transparent huge pages, which the kernel may or may not give.
public struct RingMemory: ~Copyable {
    /// Where the memory came from, so `deinit` frees it the same way.
    private enum Source { case hugetlb, numa, posix }

    public let base: UnsafeMutableRawPointer
    public let byteCount: Int
    /// The NUMA node the memory was bound to, or nil when libnuma is unavailable.
    public let node: Int32?
    /// Whether the block is on huge pages: reserved ones, or transparent ones requested (`madvise(MADV_HUGEPAGE)`
    /// succeeded).
    public let hugePages: Bool
    /// Whether the block is on reserved huge pages (`MAP_HUGETLB`).
    public var reservedHugePages: Bool { source == .hugetlb }
    private let source: Source

    static let hugePageSize = 2 << 20

    /// Allocates and pre-touches `byteCount` bytes (rounded up to whole pages).
    /// - Parameter node: the NUMA node of the thread that will read the memory most; nil means the caller's node.
    public init(byteCount requested: Int, node: Int32? = nil) {
        let large = requested >= Self.hugePageSize
        let alignment = large ? Self.hugePageSize : 4096
        let size = (requested + alignment - 1) / alignment * alignment
        var chosenNode: Int32? = nil
        var pointer: UnsafeMutableRawPointer? = nil
        var source = Source.posix
        let numa = numa_available() >= 0
        let target = node ?? Int32(max(0, numa_node_of_cpu(Int32(max(0, sched_getcpu_safe())))))
        if large {
            // Reserved at mmap (no MAP_NORESERVE), so the pre-touch below cannot meet an empty pool: a short pool
            // fails here, and the block falls back to ordinary pages.
            let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0)
            if let p, p != MAP_FAILED {
                pointer = p
                source = .hugetlb
                if numa {
                    numa_tonode_memory(p, size, target)  // before the first touch, which places the pages
                    chosenNode = target
                }
            }
        }
        if pointer == nil && numa {
            // numa_alloc_onnode mmaps whole pages, so the block is page aligned (and 2 MiB aligned is not promised).
            if let p = numa_alloc_onnode(size, target) {
                pointer = p
                chosenNode = target
                source = .numa
            }
        }
        if pointer == nil {
            var p: UnsafeMutableRawPointer? = nil
            // posix_memalign only fails on out-of-memory here: the alignment is a power of two.
            guard posix_memalign(&p, alignment, size) == 0, let p else { fatalError("RingMemory: out of memory (\(size) bytes)") }
            pointer = p
        }
        let base = pointer!
        var huge = false
        if source == .hugetlb {
            huge = true
        } else if large {
            huge = madvise(base, size, MADV_HUGEPAGE) == 0
        }
        // Pre-touch: fault every page in now, on the allocating thread's node policy, not on the first hot-path write.
        memset(base, 0, size)
        self.base = base
        self.byteCount = size
        self.node = chosenNode
        self.hugePages = huge
        self.source = source
    }

    deinit {
        switch source {
        case .hugetlb: munmap(base, byteCount)
        case .numa: numa_free(base, byteCount)
        case .posix: free(base)
        }
    }
}

/// `sched_getcpu` through the shim (a GNU extension Glibc's Swift overlay lacks).
@inline(__always)
func sched_getcpu_safe() -> Int32 { Int32(CDSIShims_current_cpu()) }
