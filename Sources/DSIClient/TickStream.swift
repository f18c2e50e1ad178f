import DSICore
import Dispatch
import Synchronization

/// The ticks of a `DSIClient` as an `AsyncSequence`. Reading is blocking TLS under the hood: each `next()` that finds
/// its batch empty reads the next batch on the client's own queue, so the application's tasks never block and the
/// reading goes only as fast as the application takes ticks (the publisher's slow-consumer policy applies beyond).
public struct TickStream: AsyncSequence, Sendable {
    public typealias Element = Tick
    let connection: ClientConnection

    public func makeAsyncIterator() -> Iterator { Iterator(connection: connection) }

    public struct Iterator: AsyncIteratorProtocol {
        let connection: ClientConnection
        var batch: [Tick] = []
        var position = 0
        var finished = false

        public mutating func next() async throws -> Tick? {
            while position == batch.count {
                if finished || Task.isCancelled { return nil }
                let connection = self.connection
                let cancelled = StopFlag()
                let read = try await withTaskCancellationHandler {
                    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[Tick]?, Error>) in
                        connection.queue.async {
                            continuation.resume(with: Result { try connection.readBatch(cancelled: cancelled) })
                        }
                    }
                } onCancel: {
                    cancelled.set()
                }
                guard let read else {
                    finished = true
                    return nil
                }
                batch = read
                position = 0
            }
            defer { position += 1 }
            return batch[position]
        }
    }
}
