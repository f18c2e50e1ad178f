import DSICore
import DSIFeeds
import Testing

/// Missing ranges against a plain set of sequence numbers: random appends, fills, splits and removals.
@Suite struct MissingRangesTests {
    @Test func matchesASetModel() {
        var random = SplitMix64(seed: 11)
        for trial in 0..<200 {
            var ranges = MissingRanges()
            var model = Set<UInt64>()
            var frontier: UInt64 = 1
            for _ in 0..<60 {
                switch random.next() % 5 {
                case 0, 1:  // a gap at the frontier
                    let first = frontier + random.next() % 3
                    let last = first + random.next() % 20
                    ranges.append(first: first, last: last, seenAt: 0)
                    model.formUnion(first...last)
                    frontier = last + 1 + random.next() % 5
                case 2, 3:  // data arrives anywhere
                    let first = 1 + random.next() % frontier
                    let end = first + 1 + random.next() % 15
                    ranges.remove(first: first, end: end, byRecovery: random.next() % 2 == 0, now: 1)
                    model.subtract(first..<end)
                default:  // a large range asked for in pieces
                    if let i = ranges.indices.randomElement(using: &random) {
                        ranges.split(at: i, after: 1 + random.next() % 4)
                    }
                }
                #expect(ranges.testOnly_verifyInvariants(), "trial \(trial)")
                let flattened = Set(ranges.all.flatMap { Array($0.first...$0.last) })
                #expect(flattened == model, "trial \(trial)")
                #expect(ranges.messages == UInt64(model.count))
            }
            while !ranges.isEmpty { ranges.removeFirst() }
            #expect(ranges.messages == 0 && ranges.testOnly_verifyInvariants())
        }
    }

    @Test func aPartialReplyIsAskedForAgainAtOnceAndALineRestartsTheWait() {
        var ranges = MissingRanges()
        ranges.append(first: 10, last: 30, seenAt: 5)
        ranges[ranges.indices.lowerBound].requestedAt = 7
        ranges[ranges.indices.lowerBound].attempts = 2
        ranges.remove(first: 10, end: 15, byRecovery: true, now: 100)
        #expect(ranges.first == MissingRanges.Entry(first: 15, last: 30, seenAt: 5, requestedAt: 0, attempts: 0))
        ranges.remove(first: 15, end: 20, byRecovery: false, now: 200)
        #expect(ranges.first?.seenAt == 200 && ranges.first?.first == 20)
    }

    @Test func adjacentRangesNotYetAskedForMerge() {
        var ranges = MissingRanges()
        ranges.append(first: 1, last: 4, seenAt: 0)
        ranges.append(first: 5, last: 9, seenAt: 1)
        #expect(ranges.count == 1 && ranges.first?.last == 9)
        ranges[ranges.indices.lowerBound].requestedAt = 3
        ranges.append(first: 10, last: 12, seenAt: 2)
        #expect(ranges.count == 2, "one already asked for keeps its own request")
    }
}
