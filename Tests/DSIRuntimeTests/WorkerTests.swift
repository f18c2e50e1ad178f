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
