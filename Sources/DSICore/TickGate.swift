/// Decides, tick by tick, what goes on past a stage: generic (specialised), so a check costs a plain call.
public protocol TickGate {
    /// Whether `tick` passes.
    mutating func admit(_ tick: Tick) -> Bool
}

/// Lets everything through.
public struct OpenGate: TickGate {
    public init() {}
    @inlinable public mutating func admit(_ tick: Tick) -> Bool { true }
}
