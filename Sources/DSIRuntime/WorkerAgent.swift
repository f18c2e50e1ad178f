import Atomics
import DSICore
import DSIFeeds
import Foundation

/// What a reload asks of a running worker, applied on the worker's own thread between duty cycles.
enum WorkerChange {
    /// Feed `feed`'s pipeline writes to these branches from now on (filters changed, branches added or removed).
    case route(feed: Int, branches: [FilteringSink<TickRingSink>])
    /// A publisher added by a reload starts being polled.
    case addPublisher(PublisherAgent)
    /// Publish node `name`'s filters on this worker change.
    case gate(name: String, FeedGate)
    /// Publish node `name` is removed: its ring is drained, its subscribers get an end frame, it closes.
    case removePublisher(name: String)
}

/// Changes posted by the thread that reloads and taken by a worker's thread: the worker looks at one atomic per
/// duty cycle (a relaxed load, no lock) and takes the changes under the lock only when there are some; the poster
/// waits for its change to be applied before taking the next step, so steps on different workers happen in order.
final class ChangeMailbox: @unchecked Sendable {
    // @unchecked Sendable: `pending` is guarded by `lock`; the counters are atomics.
    private let lock = NSLock()
    private var pending: [(ticket: Int, change: WorkerChange)] = []
    private let posted = ManagedAtomic<Int>(0)
    private let applied = ManagedAtomic<Int>(0)
    /// The "consumer gone" flags of the rings this worker drains (those it started with and those reloads added):
    /// set when the worker dies, so that a feed blocking on a full ring stops waiting for it.
    private var consumerFlags: [ManagedAtomic<Bool>] = []
    private var died = false

    /// Adds a ring's flag (set at once if the worker has already died).
    func consumes(_ flag: ManagedAtomic<Bool>) {
        lock.lock()
        defer { lock.unlock() }
        consumerFlags.append(flag)
        if died { flag.store(true, ordering: .releasing) }
    }

    /// On the worker's thread when its agent failed.
    func workerDied() {
        lock.lock()
        defer { lock.unlock() }
        died = true
        for flag in consumerFlags { flag.store(true, ordering: .releasing) }
    }

    /// Posts `change`; returns its ticket for `wait`.
    func post(_ change: WorkerChange) -> Int {
        lock.lock()
        defer { lock.unlock() }
        let ticket = posted.load(ordering: .relaxed) + 1
        pending.append((ticket, change))
        posted.store(ticket, ordering: .releasing)
        return ticket
    }

    /// Whether changes wait beyond `seen` (the last ticket the worker applied): one relaxed load.
    @inline(__always)
    func hasPending(after seen: Int) -> Bool { posted.load(ordering: .relaxed) != seen }

    /// On the worker's thread: the waiting changes, in order.
    func take() -> [(ticket: Int, change: WorkerChange)] {
        lock.lock()
        defer { lock.unlock() }
        let taken = pending
        pending.removeAll()
        return taken
    }

    /// On the worker's thread: everything up to `ticket` is in effect.
    func acknowledge(_ ticket: Int) { applied.store(ticket, ordering: .releasing) }

    /// Waits until `ticket` is applied, or `timeoutNanos` passed (a worker that died applies nothing).
    func wait(for ticket: Int, timeoutNanos: UInt64 = 5_000_000_000) -> Bool {
        let deadline = Clock.monotonicNanos() + timeoutNanos
        while applied.load(ordering: .acquiring) < ticket {
            if Clock.monotonicNanos() > deadline { return false }
            Clock.sleep(nanos: 100_000)
        }
        return true
    }
}

/// A handler worker's duty cycle: its feeds' pipelines and the publishers it runs (either may be none), ordered by
/// the graph's priorities, taking reload changes between cycles.
struct WorkerAgent: Agent {
    var stages: PrioritizedPair<AgentGroup<SessionWatch>, AgentPair<AgentGroup<PublisherAgent>, AgentGroup<NATSAgent>>>
    let mailbox: ChangeMailbox
    private var seen = 0

    /// - Parameter favoured: which stage is favoured; nil polls both every cycle, the pipelines first.
    init(
        pipelines: [SessionWatch], publishers: [PublisherAgent], nats: [NATSAgent], favoured: FavouredAgent?,
        mailbox: ChangeMailbox
    ) {
        // A starvation limit of one polls the other stage every cycle: no stage is favoured.
        stages = PrioritizedPair(
            AgentGroup(pipelines), AgentPair(AgentGroup(publishers), AgentGroup(nats)), favoured: favoured ?? .first,
            starvationLimit: favoured == nil ? 1 : 8)
        self.mailbox = mailbox
    }

    mutating func doWork() throws -> Int {
        if mailbox.hasPending(after: seen) { apply() }
        return try stages.doWork()
    }

    mutating func onClose() { stages.onClose() }

    private mutating func apply() {
        for (ticket, change) in mailbox.take() {
            switch change {
            case .route(let feed, let branches):
                if let i = stages.first.members.firstIndex(where: { $0.feed == feed }) {
                    stages.first.members[i].inner.sink.branches = branches
                }
            case .addPublisher(let agent):
                stages.second.first.members.append(agent)
            case .gate(let name, let gate):
                if let i = stages.second.first.members.firstIndex(where: { $0.name == name }) {
                    stages.second.first.members[i].gate = gate
                }
            case .removePublisher(let name):
                if let i = stages.second.first.members.firstIndex(where: { $0.name == name }) {
                    stages.second.first.members[i].onClose()
                    stages.second.first.members.remove(at: i)
                }
            }
            seen = ticket
            mailbox.acknowledge(ticket)
        }
    }
}
