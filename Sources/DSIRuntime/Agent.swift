/// A unit of work a worker polls. Agents on one worker are called one after the other in its duty cycle, as plain
/// (specialised) calls: stages on the same thread are fused, never connected by a ring.
public protocol Agent {
    /// Does whatever work is ready without blocking; returns how much (0 = nothing was ready).
    mutating func doWork() throws -> Int
    /// Called on the worker's thread after the last duty cycle: drain, flush, close.
    mutating func onClose()
}

extension Agent {
    public mutating func onClose() {}
}

/// Two agents fused on one worker, the first polled first.
public struct AgentPair<First: Agent, Second: Agent>: Agent {
    public var first: First
    public var second: Second
    public init(_ first: First, _ second: Second) {
        self.first = first
        self.second = second
    }
    @inlinable
    public mutating func doWork() throws -> Int { try first.doWork() + second.doWork() }
    public mutating func onClose() {
        first.onClose()
        second.onClose()
    }
}
