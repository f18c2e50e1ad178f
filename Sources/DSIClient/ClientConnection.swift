import DSICore
import DSINet
import Dispatch
import Glibc
import Synchronization

/// The state behind a `DSIClient`: one connection at a time, replaced after a loss by one that resumes where the
/// last delivered tick left off. Everything but `statistics` runs on `queue`.
final class ClientConnection: @unchecked Sendable {
    // @unchecked Sendable: the mutable state is touched only on `queue` (serial); statistics sit behind a mutex.
    let options: DSIClient.Options
    let queue = DispatchQueue(label: "dsi-client")
    private var subscriber: TLSSubscriber? = nil
    /// The stream's day as the last hello gave it (0: the stream does not survive a publisher restart).
    private var day: UInt32 = 0
    private var tracker = TopicTracker()
    /// The last update delivered: where a reconnection resumes.
    private var lastDelivered: UInt64 = 0
    private var lastFrame: UInt64 = 0
    private var ended = false
    private let stats = Mutex(DSIClient.Statistics())
    /// Counts of the read in progress, added to `stats` when it ends.
    private var pending = PendingCounts()

    struct PendingCounts {
        var ticks: UInt64 = 0
        var images: UInt64 = 0
        var duplicatesDropped: UInt64 = 0
        var lastStreamSeq: UInt64 = 0
    }

    init(_ options: DSIClient.Options) {
        self.options = options
        lastDelivered = options.resumeAfter ?? 0
    }

    var statistics: DSIClient.Statistics { stats.withLock { $0 } }

    /// Reads until at least one tick can be delivered; nil at the end of the stream or when cancelled.
    func readBatch(cancelled: StopFlag) throws -> [Tick]? {
        var batch: [Tick] = []
        while !ended {
            if cancelled.isSet { return nil }
            guard let subscriber = try connected(cancelled: cancelled) else { return nil }
            do {
                // Every tick already received goes into the batch in place; a frame of another kind comes back.
                let before = subscriber.ticksReceived
                let frame = try subscriber.nextFrame { tick in take(tick, into: &batch) }
                if frame != nil || subscriber.ticksReceived != before {
                    lastFrame = Clock.monotonicNanos()
                } else if Clock.monotonicNanos() &- lastFrame > options.silenceTimeoutNanos {
                    lose("the publisher went silent")
                }
                publishCounts()
                if let frame { try take(frame, into: &batch) }
            } catch let error as DSIClientError {
                throw error
            } catch {
                lose("\(error)")
            }
            if !batch.isEmpty { return batch }
        }
        return batch.isEmpty ? nil : batch
    }

    /// Checks a tick against its topic and the last delivered sequence: new ones join the batch, repeats are counted
    /// and dropped.
    private func take(_ tick: Tick, into batch: inout [Tick]) {
        let image = tick.flags & Tick.Flags.image != 0
        // A conflated quote comes after later ticks of other topics: its own topic says whether it is new.
        let conflated = tick.flags & Tick.Flags.conflated != 0
        if !image && !conflated && tick.streamSeq <= lastDelivered {
            pending.duplicatesDropped += 1
            return
        }
        if tracker.observe(tick) == .repeated {
            pending.duplicatesDropped += 1
            return
        }
        if !image && tick.streamSeq > lastDelivered { lastDelivered = tick.streamSeq }
        batch.append(tick)
        pending.ticks += 1
        if image { pending.images += 1 } else { pending.lastStreamSeq = tick.streamSeq }
    }

    /// Adds what `take` counted since the last call to the statistics others read: one lock per read, not per tick.
    private func publishCounts() {
        let (counts, missed, conflated) = (pending, tracker.missed, tracker.conflated)
        pending = .init()
        stats.withLock {
            $0.ticks += counts.ticks
            $0.images += counts.images
            $0.duplicatesDropped += counts.duplicatesDropped
            if counts.lastStreamSeq != 0 { $0.lastStreamSeq = counts.lastStreamSeq }
            $0.missed = missed
            $0.conflated = conflated
        }
    }

    /// Acts on one frame: ticks are checked against their topics and the last delivered sequence.
    private func take(_ frame: ServerFrame, into batch: inout [Tick]) throws {
        switch frame {
        case .tick(let tick):
            take(tick, into: &batch)
        case .subscribed(let s):
            if s.flags & PublishProtocol.SubscribedFlags.resumed != 0 { stats.withLock { $0.resumed += 1 } }
            if s.flags & PublishProtocol.SubscribedFlags.imagesInsteadOfResume != 0 {
                stats.withLock { $0.resumeFailures += 1 }
            }
        case .error(let code, _, let reason):
            let text = "\(PublishProtocol.Code(rawValue: code)?.name ?? "code \(code)"): \(reason)"
            stats.withLock { $0.lastError = text }
            // A refused subscription will not succeed by asking again.
            throw DSIClientError("the publisher refused a request: \(text)")
        case .goodbye(let code, let reason):
            let retriable: Set<PublishProtocol.Code> = [.slowConsumer, .shuttingDown, .heartbeatTimeout]
            guard let known = PublishProtocol.Code(rawValue: code), retriable.contains(known), options.reconnect else {
                ended = true
                throw DSIClientError(
                    "the publisher dropped this client: \(PublishProtocol.Code(rawValue: code)?.name ?? "code \(code)"): \(reason)"
                )
            }
            lose("goodbye: \(reason)")
        case .end:
            ended = true
        case .hello, .heartbeat, .unknown:
            break
        }
    }

    private func lose(_ why: String) {
        subscriber = nil
        if !options.reconnect { ended = true }
    }

    /// The live connection, or a new one: it resumes after the last delivered tick when the publisher's stream is
    /// the one that tick came from (same day, numbering not started again).
    private func connected(cancelled: StopFlag) throws -> TLSSubscriber? {
        if let subscriber { return subscriber }
        let deadline = Clock.monotonicNanos() + options.reconnectTimeoutNanos
        var delay: UInt64 = 50_000_000
        var lastError = ""
        while !cancelled.isSet {
            let first = stats.withLock { $0.connections } == 0
            do {
                let s = try TLSSubscriber(options.connection)
                var resumeAfter: UInt64? = nil
                if first {
                    resumeAfter = options.resumeAfter
                    if resumeAfter != nil { tracker.startsMidStream = true }
                } else if lastDelivered > 0 {
                    if s.hello.day == day && s.hello.nextStreamSeq > lastDelivered {
                        resumeAfter = lastDelivered
                    } else {
                        // Another stream (a new day, or a publisher without a journal that restarted): its numbers
                        // start again, so what was delivered cannot be recognised by number; images start it.
                        lastDelivered = 0
                        tracker = TopicTracker()
                    }
                }
                try s.subscribe(options.selection, resumingAfter: resumeAfter)
                day = s.hello.day
                subscriber = s
                lastFrame = Clock.monotonicNanos()
                stats.withLock {
                    $0.connections += 1
                    $0.tlsVersion = s.tlsVersion
                }
                return s
            } catch let refused as TLSSubscriber.LoginRefused {
                // The publisher answered and refused: asking again changes nothing.
                throw DSIClientError("\(refused)")
            } catch {
                lastError = "\(error)"
            }
            // The first connection is not retried: a wrong address or a refused certificate is reported at once.
            guard options.reconnect, !first, Clock.monotonicNanos() < deadline else {
                throw DSIClientError("cannot reach \(options.connection.host):\(options.connection.port): \(lastError)")
            }
            usleep(UInt32(delay / 1000))
            delay = min(delay * 2, 1_000_000_000)
        }
        return nil
    }
}
