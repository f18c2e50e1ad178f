import DSIRuntime
import Glibc
import Logging
import Synchronization
import Testing

final class Tally: Sendable {
    let count = Atomic<Int>(0)
    let closed = Atomic<Bool>(false)
}

struct CountingAgent: Agent {
    let tally: Tally
    var remaining: Int
    mutating func doWork() throws -> Int {
        guard remaining > 0 else { return 0 }
        remaining -= 1
        tally.count.add(1, ordering: .relaxed)
        return 1
    }
    mutating func onClose() { tally.closed.store(true, ordering: .relaxed) }
}

struct FailingAgent: Agent {
    struct Boom: Error {}
    mutating func doWork() throws -> Int { throw Boom() }
}

@Suite struct WorkerTests {
    @Test func runsDrainsAndCloses() throws {
        let tally = Tally()
        let worker = Worker(name: "t", cpu: 0, idle: .backoff)
        worker.start(CountingAgent(tally: tally, remaining: 10_000), logger: Logger(label: "t"))
        // A plain sleep, not Task.sleep: a suspended test would wait for a free thread of the shared pool.
        while tally.count.load(ordering: .relaxed) < 100 { usleep(1000) }
        worker.stop()
        worker.join()
        // Stop drains: the agent is polled until it reports no work, so all 10 000 units are done.
        #expect(tally.count.load(ordering: .relaxed) == 10_000)
        let closed = tally.closed.load(ordering: .relaxed)
        #expect(closed)
        #expect(worker.observedCPU == 0, "pinned to the configured CPU")
        #expect(worker.failure == nil && worker.hasFinished)
    }

    @Test func aDyingWorkerIsReported() throws {
        let worker = Worker(name: "f", cpu: nil, idle: .backoff)
        let flag = Tally()
        worker.start(FailingAgent(), logger: Logger(label: "t")) { _ in flag.closed.store(true, ordering: .relaxed) }
        worker.join()
        #expect(worker.failure is FailingAgent.Boom)
        let told = flag.closed.load(ordering: .relaxed)
        #expect(told, "the failure callback ran")
    }

    @Test func backoffSleepsWhenIdle() {
        var idle = IdleStrategy(.backoff)
        let start = ContinuousClock.now
        for _ in 0..<400 { idle.idle(workDone: 0) }
        // 200 spin/yield rounds, then sleeps that grow to the cap: it must have slept, not spun.
        #expect(ContinuousClock.now - start > .milliseconds(2))
    }
}

/// An agent that logs each call (and its close) into a shared journal, with work for its first `busyCycles` calls.
struct JournalAgent: Agent {
    final class Journal { var entries: [String] = [] }
    let name: String
    let journal: Journal
    var busyCycles: Int
    mutating func doWork() throws -> Int {
        journal.entries.append(name)
        guard busyCycles > 0 else { return 0 }
        busyCycles -= 1
        return 1
    }
    mutating func onClose() { journal.entries.append("close \(name)") }
}

@Suite struct AgentPriorityTests {
    /// Under load the favoured agent runs every cycle and the other every `starvationLimit`-th; once the favoured one
    /// is idle, both run every cycle.
    @Test(arguments: [FavouredAgent.first, .second])
    func favouredAgentRunsEveryCycleTheOtherWhenIdleOrDue(favoured: FavouredAgent) throws {
        let journal = JournalAgent.Journal()
        let busy = JournalAgent(name: "busy", journal: journal, busyCycles: 20)
        let other = JournalAgent(name: "other", journal: journal, busyCycles: 1000)
        var pair =
            favoured == .first
            ? PrioritizedPair(busy, other, favoured: .first, starvationLimit: 8)
            : PrioritizedPair(other, busy, favoured: .second, starvationLimit: 8)
        for _ in 0..<30 { _ = try pair.doWork() }
        let calls = journal.entries
        #expect(calls.filter { $0 == "busy" }.count == 30, "the favoured agent is polled every cycle")
        // Cycles 1-20: busy has work, so other runs on cycles 8 and 16 only; cycles 21-30: busy is idle, other runs
        // each time.
        #expect(calls.filter { $0 == "other" }.count == 2 + 10)
        let firstOther = calls.firstIndex(of: "other")!
        #expect(calls[..<firstOther].count == 8, "the other agent waits at most 8 cycles")
        pair.onClose()
        let expectedOrder = favoured == .first ? ["close busy", "close other"] : ["close other", "close busy"]
        #expect(Array(journal.entries.suffix(2)) == expectedOrder, "closed in chain order, whichever is favoured")
    }
}
