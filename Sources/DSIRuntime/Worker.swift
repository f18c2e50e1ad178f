import Atomics
import CDSIShims
import CNuma
import DSICore
import Foundation
import Logging

/// One thread pinned to one CPU, running a duty cycle over its agent until stopped: poll the agent, and when it did
/// nothing, call the idle strategy.
///
/// A worker whose agent throws stops, keeps the error and reports it (`failure`); the others are told through
/// `onFailure`, so a dead worker is never hidden.
public final class Worker: @unchecked Sendable {
    // @unchecked Sendable: `failure` and the agent's state are written by the worker thread and read only after
    // `join()` (which orders them); the flags are atomics.

    public let name: String
    public let cpu: Int?
    public let idle: IdleStrategyKind
    private let running = ManagedAtomic<Bool>(false)
    private let stopRequested = ManagedAtomic<Bool>(false)
    private let finished = ManagedAtomic<Bool>(false)
    private var thread: Thread?
    private let done = DispatchSemaphore(value: 0)
    public private(set) var failure: Error?
    /// The CPU the thread actually ran on after pinning (checked, not assumed).
    public private(set) var observedCPU: Int = -1
    /// Duty cycles run, those that found no work, and the time spent in cycles that did (ns): the worker's load,
    /// for metrics. Written by the worker's thread only.
    public let cycles = Counter()
    public let idleCycles = Counter()
    public let busyNanos = Counter()
    public var dutyCycles: UInt64 { cycles.load }

    public init(name: String, cpu: Int?, idle: IdleStrategyKind) {
        self.name = name
        self.cpu = cpu
        self.idle = idle
    }

    /// Starts the thread running `agent`. `onFailure` runs on the worker's thread if the agent throws.
    public func start<A: Agent>(_ agent: A, logger: Logger, onFailure: @escaping @Sendable (Error) -> Void = { _ in }) {
        precondition(!running.load(ordering: .acquiring), "worker \(name) started twice")
        running.store(true, ordering: .releasing)
        let box = AgentBox(agent)
        let thread = Thread { [self] in
            CDSIShims_set_thread_name("dsi-\(name)")
            _ = CDSIShims_set_timer_slack(1_000)  // backoff's short sleeps must not stretch by the default 50 µs
            if let cpu {
                let status = CDSIShims_pin_current_thread(Int32(cpu))
                if status != 0 {
                    logger.warning("worker \(name): cannot pin to CPU \(cpu): \(String(cString: strerror(-status)))")
                }
            }
            observedCPU = Int(CDSIShims_current_cpu())
            var strategy = IdleStrategy(idle)
            do {
                while !stopRequested.load(ordering: .relaxed) {
                    // Two clock reads a cycle (vDSO, tens of ns): nothing beside a batch's work, and an idle
                    // cycle only spins a little slower. The busy time is what says how loaded the core is; a
                    // count of idle cycles alone would call a spinning worker 99% idle under heavy load.
                    let started = Clock.monotonicNanos()
                    let work = try box.agent.doWork()
                    if work > 0 {
                        busyNanos.add(Clock.monotonicNanos() &- started)
                    } else {
                        idleCycles.add()
                    }
                    strategy.idle(workDone: work)
                    cycles.add()
                }
                // Drain: keep polling until a cycle finds nothing, so that stop loses nothing already received.
                while try box.agent.doWork() > 0 {}
            } catch {
                failure = error
                logger.error("worker \(name) failed: \(error)")
                onFailure(error)
            }
            box.agent.onClose()
            finished.store(true, ordering: .releasing)
            done.signal()
        }
        thread.stackSize = 8 << 20
        self.thread = thread
        thread.start()
    }

    /// Asks the duty cycle to finish (it drains first).
    public func stop() { stopRequested.store(true, ordering: .releasing) }

    /// Whether the thread has ended (stopped or failed).
    public var hasFinished: Bool { finished.load(ordering: .acquiring) }

    /// Waits for the thread to end.
    public func join() {
        guard running.load(ordering: .acquiring) else { return }
        done.wait()
        done.signal()  // later joins return at once
    }
}

/// Holds an agent in a class so the thread's closure can mutate it in place.
/// @unchecked Sendable: handed to the worker thread once at start; only that thread touches it afterwards.
final class AgentBox<A: Agent>: @unchecked Sendable {
    var agent: A
    init(_ agent: A) { self.agent = agent }
}
