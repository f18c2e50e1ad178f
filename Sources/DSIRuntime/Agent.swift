/// A unit of work a worker polls. Agents on one worker are called one after the other in its duty cycle, as plain
/// (specialised) calls: stages on the same thread are fused, never connected by a ring.
/// The metatype crosses to the worker's thread with the agent (its generic code runs there): `SendableMetatype`.
public protocol Agent: SendableMetatype {
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

/// Any number of agents of one type on one worker (the publishers of several branches), each polled every cycle, in
/// order; closed in order.
public struct AgentGroup<Member: Agent>: Agent {
    public var members: [Member]
    public init(_ members: [Member]) { self.members = members }

    public mutating func doWork() throws -> Int {
        var work = 0
        for m in members.indices { work += try members[m].doWork() }
        return work
    }

    public mutating func onClose() {
        for m in members.indices { members[m].onClose() }
    }
}

/// Which of two agents sharing a worker its duty cycle favours.
public enum FavouredAgent: Sendable, Equatable { case first, second }

/// Two agents on one worker, one of them favoured: the other is polled only in duty cycles where the favoured one
/// found nothing to do, and at least once every `starvationLimit` cycles, so it is slowed under load but never
/// starved. Closing goes in chain order (`first`, then `second`) whichever is favoured: what is upstream drains into
/// what is downstream.
public struct PrioritizedPair<First: Agent, Second: Agent>: Agent {
    public var first: First
    public var second: Second
    public let favoured: FavouredAgent
    public let starvationLimit: Int
    /// Duty cycles since the other agent was last polled.
    @usableFromInline var cyclesWithoutOther = 0

    public init(_ first: First, _ second: Second, favoured: FavouredAgent, starvationLimit: Int = 8) {
        self.first = first
        self.second = second
        self.favoured = favoured
        self.starvationLimit = max(1, starvationLimit)
    }

    @inlinable
    public mutating func doWork() throws -> Int {
        let work = favoured == .first ? try first.doWork() : try second.doWork()
        cyclesWithoutOther += 1
        if work > 0 && cyclesWithoutOther < starvationLimit { return work }
        cyclesWithoutOther = 0
        return try work + (favoured == .first ? second.doWork() : first.doWork())
    }

    public mutating func onClose() {
        first.onClose()
        second.onClose()
    }
}
