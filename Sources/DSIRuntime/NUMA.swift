import CNuma

/// NUMA placement through libnuma.
enum NUMA {
    /// The node of `cpu`, or nil (the allocating thread's node) when libnuma is unavailable or no CPU is given.
    static func node(ofCPU cpu: Int?) -> Int32? {
        guard let cpu, numa_available() >= 0 else { return nil }
        let node = numa_node_of_cpu(Int32(cpu))
        return node >= 0 ? node : nil
    }
}
