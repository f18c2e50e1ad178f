import DSICore
import DSIFeeds
import DSINet
import DSIPcap

/// Sends a capture's UDP payloads to multicast with the capture's pacing, a multiple of it, a fixed rate, or flat out
/// (then in `sendmmsg` batches); once or several times over, whole or up to a limit.
public struct Replayer {
    public struct Report: Sendable {
        public var datagrams = 0
        /// Copies not sent because of `dropProbability`, and datagrams dropped on every destination.
        public var dropped = 0
        public var droppedEverywhere = 0
        public var messages = 0
        public var skipped = 0
        /// MoldUDP64 packets before `fromSequence`, not sent.
        public var skippedBeforeStart = 0
        /// Gaps in the capture shortened to the longest allowed, and the longest of them (ns).
        public var clampedGaps = 0
        public var longestClampedGap: UInt64 = 0
        /// The reader's account of the file (frames, what was skipped, damage).
        public var captureSummary = ""
        public var seconds = 0.0
        /// Passes over the capture begun (with `loops`), and whether `limit` ended the replay.
        public var passes = 0
        public var limitReached = false
        /// End-of-session packets not sent in passes before the last.
        public var endsOfSessionHeld = 0
        /// How long the paced replay should have taken (ns): the capture's span over the passes, at the pacing asked
        /// for; 0 at top speed.
        public var intendedNanos: UInt64 = 0
        /// With kernel pacing: datagrams the qdisc dropped because their time had passed (0 when all kept it).
        public var txTimeMisses = 0
        /// How late packets left, against their due time (ns): the pacing error.
        public var lateness = LatencySummary(count: 0, p50: 0, p99: 0, p999: 0, max: 0)
        public var latenessP90: UInt64 = 0

        /// Datagrams per second achieved.
        public var rate: Double { seconds > 0 ? Double(datagrams) / seconds : 0 }
    }

    public var destinations: [IPv4Endpoint]
    public var pacing: ReplayPacer.Mode
    public var interface: IPv4Address
    public var ttl: UInt8
    /// Spin (rather than sleep) for the last this-many ns before a packet is due; 0 sleeps only, which leaves the
    /// CPU to the handler when both share a small machine.
    public var spinThresholdNanos: UInt64 = 100_000
    /// Gaps in the capture longer than this (ns) are shortened to it (nil keeps them): see `ReplayPacer.maxGapNanos`.
    public var maxGapNanos: UInt64? = ReplayPacer.defaultMaxGapNanos
    /// Drop each datagram to each destination with this probability (independently per destination), to exercise
    /// arbitration and recovery; 0 sends everything.
    public var dropProbability = 0.0
    public var dropSeed: UInt64 = 1
    /// Send to this port instead of each packet's own (with `destinations` empty): replays a capture's lines onto
    /// other ports, as tests do to stay apart.
    public var portOverride: UInt16? = nil
    /// Skip MoldUDP64 packets that start before this sequence number: a handler sees the session from the middle,
    /// as one started late would.
    public var fromSequence: UInt64? = nil
    /// Play the capture this many times. Each pass after the first follows on in time (one mean packet gap after the
    /// last) and in MoldUDP64 sequence (numbers shifted past the previous pass), so a handler takes it as new
    /// messages rather than repeats; the ITCH contents repeat as they are (books see the same orders again). End of
    /// session packets are sent in the last pass only.
    public var loops = 1
    /// Stop after this many datagrams (over all passes).
    public var limit: Int? = nil
    /// Live progress, when the replay runs long enough to need it.
    public var progress: ProgressLine? = nil
    /// Kernel pacing (`SO_TXTIME`): each datagram handed over `KernelPacing.lookaheadNanos` early with its time to
    /// leave, for an etf or fq qdisc to release (`KernelPacing.check` first). Needs a paced mode, not top speed.
    public var kernelPacing = false

    /// - Parameter destinations: where each datagram goes (A and B lines: two); empty means the capture's own
    ///   destination.
    public init(
        destinations: [IPv4Endpoint], pacing: ReplayPacer.Mode, interface: IPv4Address = IPv4Address(0x7F00_0001), ttl: UInt8 = 0
    ) {
        self.destinations = destinations
        self.pacing = pacing
        self.interface = interface
        self.ttl = ttl
    }

    /// Ends a pass early (the limit or a stop request): thrown from inside the reader's loop.
    private struct Done: Error {}

    public func replay(path: String, shouldStop: () -> Bool = { false }) throws -> Report {
        precondition(loops >= 1, "at least one pass")
        let plan = try ReplayPlan(path: path)
        let sender = try MulticastSender(interface: interface, ttl: ttl)
        var pacer = ReplayPacer(mode: pacing)
        pacer.spinThresholdNanos = spinThresholdNanos
        pacer.maxGapNanos = maxGapNanos
        var report = Report()
        var lateness = LatencyHistogram()
        var random = SplitMix64(seed: dropSeed)
        let batch = SendBatch(destinations: destinations.count)
        progress?.total = UInt64(min(limit ?? .max, plan.datagrams * loops))
        precondition(!(kernelPacing && pacing == .topSpeed), "kernel pacing needs a schedule")
        // CLOCK_TAI minus CLOCK_MONOTONIC: a due time on the monotonic clock as the time SO_TXTIME takes.
        var taiOffset: UInt64 = 0
        if kernelPacing {
            try sender.enableTxTime()
            taiOffset = MulticastSender.taiNanos() &- Clock.monotonicNanos()
        }
        let start = Clock.monotonicNanos()
        // The first pass's reader: its account of the file is the capture's (later passes read the same).
        var reader: PcapReader? = nil
        passes: for pass in 0..<loops {
            let current = try PcapReader(path: path)
            if pass == 0 { reader = current }
            report.passes = pass + 1
            let timeShift = UInt64(pass) &* plan.passNanos
            let sequenceShift = UInt64(pass) &* plan.sequenceSpan
            do {
                try current.forEachDatagram { datagram in
                    if shouldStop() { throw Done() }
                    if let limit, report.datagrams >= limit {
                        report.limitReached = true
                        throw Done()
                    }
                    let packet = datagram.payload.baseAddress.flatMap { MoldUDP64Packet($0, length: datagram.payload.count) }
                    if let fromSequence, let packet, packet.sequence < fromSequence {
                        report.skippedBeforeStart += 1
                        return
                    }
                    // The session ends once, after the last pass: an end of session mid-replay would close it.
                    if pass < loops - 1, let packet, packet.isEndOfSession {
                        report.endsOfSessionHeld += 1
                        return
                    }
                    var leaveAt: UInt64? = nil
                    if kernelPacing {
                        // Handed over ahead of time; the qdisc holds it until its time (a constant lead later).
                        let due = pacer.deadline(captureTime: datagram.time &+ timeShift)
                        let handOver = due > KernelPacing.lookaheadNanos ? due - KernelPacing.lookaheadNanos : 0
                        while case let now = Clock.monotonicNanos(), now < handOver { Clock.sleep(nanos: handOver - now) }
                        leaveAt = due &+ taiOffset &+ KernelPacing.leadNanos
                    } else {
                        lateness.record(pacer.wait(captureTime: datagram.time &+ timeShift))
                    }
                    let targets =
                        destinations.isEmpty
                        ? [IPv4Endpoint(address: datagram.destination, port: portOverride ?? datagram.destinationPort)]
                        : destinations
                    // Later passes carry sequences shifted past the earlier ones (a copy: the reader's bytes are its own).
                    let payload =
                        sequenceShift > 0 && packet != nil
                        ? batch.renumbered(datagram.payload, by: sequenceShift) : datagram.payload
                    var sentAny = false
                    for (i, target) in targets.enumerated() {
                        if random.chance(dropProbability) {
                            report.dropped += 1
                            continue
                        }
                        sentAny = true
                        if let leaveAt {
                            try sender.send(payload, to: target, at: leaveAt)
                        } else if pacing == .topSpeed && !destinations.isEmpty {
                            batch.add(payload, for: i)
                        } else {
                            try sender.send(payload, to: target)
                        }
                    }
                    if batch.isFull { try batch.flush(sender, to: destinations) }
                    if !sentAny { report.droppedEverywhere += 1 }
                    report.datagrams += 1
                    if let packet { report.messages += packet.messageCount }
                    progress?.update(UInt64(report.datagrams))
                }
            } catch is Done {
                try batch.flush(sender, to: destinations)
                break passes
            }
            try batch.flush(sender, to: destinations)
        }
        progress?.finish()
        if kernelPacing {
            // The last datagrams leave up to a lookahead and a lead from now: then the error queue is complete.
            Clock.sleep(nanos: KernelPacing.lookaheadNanos + KernelPacing.leadNanos + 10_000_000)
            report.txTimeMisses = try sender.txTimeMisses()
        }
        report.skipped = reader?.skipped.total ?? 0
        report.clampedGaps = pacer.clampedGaps
        report.longestClampedGap = pacer.longestClampedGap
        report.captureSummary = reader?.summary ?? ""
        report.seconds = Double(Clock.monotonicNanos() - start) / 1e9
        report.lateness = lateness.summary
        report.latenessP90 = lateness.percentile(90)
        report.intendedNanos = pacer.intendedNanos
        return report
    }
}

extension RecoveryServer.Store {
    /// Every MoldUDP64 message in a capture, by sequence number (the first copy of each, whatever line it was on).
    public static func load(capture path: String) throws -> RecoveryServer.Store {
        let store = RecoveryServer.Store()
        let reader = try PcapReader(path: path)
        try reader.forEachDatagram { datagram in
            guard let base = datagram.payload.baseAddress,
                let packet = MoldUDP64Packet(base, length: datagram.payload.count), packet.blocksAreWellFormed
            else { return }
            let session = packet.sessionKey
            // A sequence near 2^64 (a damaged capture) would wrap: such a packet is no session's.
            guard packet.sequence < UInt64.max - UInt64(packet.messageCount) else { return }
            packet.forEachMessage { index, message, length in
                store.add(
                    session: session, seq: packet.sequence + UInt64(index),
                    message: Array(UnsafeRawBufferPointer(start: message, count: length)))
            }
        }
        return store
    }
}
