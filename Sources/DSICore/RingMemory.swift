import CDSIShims
import CNuma
import Glibc

/// A block of memory for a ring: on a chosen NUMA node when libnuma is usable, huge-page backed when large enough and
/// the kernel allows it, and pre-touched so that no page fault lands on the hot path. Freed when the owner goes away.
public struct RingMemory: ~Copyable {
    /// Where the memory came from, so `deinit` frees it the same way.
    private enum Source { case numa, posix }

    public let base: UnsafeMutableRawPointer
    public let byteCount: Int
    /// The NUMA node the memory was bound to, or nil when libnuma is unavailable.
    public let node: Int32?
    /// Whether transparent huge pages were requested for the block (`madvise(MADV_HUGEPAGE)` succeeded).
    public let hugePages: Bool
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
        if numa_available() >= 0 {
            let target = node ?? Int32(max(0, numa_node_of_cpu(Int32(max(0, sched_getcpu_safe())))))
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
        if large {
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
        case .numa: numa_free(base, byteCount)
        case .posix: free(base)
        }
    }
}

/// `sched_getcpu` through the shim (a GNU extension Glibc's Swift overlay lacks).
@inline(__always)
func sched_getcpu_safe() -> Int32 { Int32(CDSIShims_current_cpu()) }
