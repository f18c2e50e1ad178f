import DSICore
import Testing

@Suite struct SequenceTrackerTests {
    @Test func inOrderDuplicateOverlapAndGap() {
        var t = SequenceTracker()
        #expect(t.track(first: 1, count: 3) == .accept(skip: 0))
        #expect(t.track(first: 1, count: 3) == .duplicate)
        #expect(t.track(first: 3, count: 3) == .accept(skip: 1))
        #expect(t.expected == 6)
        #expect(t.track(first: 9, count: 2) == .gap(first: 6, last: 8))
        #expect(t.expected == 11)
    }

    @Test func heartbeatsShowGapsButCarryNothing() {
        var t = SequenceTracker()
        #expect(t.track(first: 1, count: 0) == .duplicate)
        #expect(t.track(first: 5, count: 0) == .gap(first: 1, last: 4))
        #expect(t.track(first: 5, count: 0) == .duplicate)
        #expect(t.expected == 5)
    }

    /// Random packets (in order, repeated, overlapping, ahead) against a model that remembers every number seen:
    /// each message is delivered at most once, and every number below `expected` was either delivered or reported.
    @Test func propertyAgainstModel() {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            var tracker = SequenceTracker()
            var delivered = Set<UInt64>()
            var reported = Set<UInt64>()
            for _ in 0..<500 {
                let base = tracker.expected
                let first = UInt64(max(1, Int(base) + Int.random(in: -6...4, using: &random)))
                let count = Int.random(in: 0...5, using: &random)
                switch tracker.track(first: first, count: count) {
                case .duplicate:
                    for s in first..<(first + UInt64(count)) { #expect(delivered.contains(s) || reported.contains(s)) }
                case .accept(let skip):
                    for s in (first + UInt64(skip))..<(first + UInt64(count)) { #expect(delivered.insert(s).inserted) }
                case .gap(let a, let b):
                    for s in a...b { #expect(reported.insert(s).inserted) }
                    for s in first..<(first + UInt64(count)) { #expect(delivered.insert(s).inserted) }
                }
                for s in 1..<tracker.expected { #expect(delivered.contains(s) != reported.contains(s)) }
            }
        }
    }
}
