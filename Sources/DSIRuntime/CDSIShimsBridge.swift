import CDSIShims

/// Thin Swift names for the shim calls the runtime makes outside hot paths.
enum CDSIShimsBridge {
    static func cpuIsAllowed(_ cpu: Int) -> Bool { CDSIShims_cpu_is_allowed(Int32(cpu)) == 1 }
}
