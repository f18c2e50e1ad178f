import Atomics

/// A flag one thread sets (a stop request, a task's cancellation) and others read: set once, never cleared.
public final class StopFlag: Sendable {
    private let value = ManagedAtomic<Bool>(false)

    public init() {}

    public func set() { value.store(true, ordering: .releasing) }
    public var isSet: Bool { value.load(ordering: .acquiring) }
}
