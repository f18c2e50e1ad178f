import DSICore
import Glibc

/// A synthetic, internally consistent NASDAQ TotalView-ITCH 5.0 session, packed into MoldUDP64 packets.
///
/// Deterministic for a seed. Every order that is executed, canceled, replaced or deleted was added before and is still
/// live; prices keep each stock's bids below its asks, so books never cross. All 23 message types appear, in rough
/// proportion to a real day (adds, deletes and replaces dominate; administrative messages are rare).
public struct SessionGenerator {
    public struct Options: Sendable {
        /// Total ITCH messages, including the opening and closing system events and the stock directory.
        public var messages: Int
        public var seed: UInt64
        public var symbols: Int = 8
        public var session: String = "DSI0000001"
        /// Mean time between messages, in ns (the pcap's pacing).
        public var meanGapNanos: UInt64 = 2_000
        public var maxMessagesPerPacket: Int = 24
        /// End-of-session packets at the end, 1 ms apart.
        public var endOfSessionRepeats = 3
        /// Midnight of the session's day, ns since the Unix epoch (2026-11-26 by default).
        public var midnight: UInt64 = 1_795_651_200 * 1_000_000_000

        public init(messages: Int, seed: UInt64) {
            self.messages = messages
            self.seed = seed
        }
    }

    /// One MoldUDP64 datagram with the time it should go on the wire.
    public struct Packet: Sendable {
        /// ns since the Unix epoch.
        public var time: UInt64
        public var payload: [UInt8]
        public var firstSequence: UInt64
        public var messageCount: Int
    }

    public struct Session: Sendable {
        /// The MoldUDP64 session name.
        public var name: String
        public var packets: [Packet]
        public var messageCount: Int
        /// Messages per ITCH type letter.
        public var typeCounts: [Character: Int]
    }

    public enum GeneratorError: Error, CustomStringConvertible {
        case tooFewMessages(Int)
        public var description: String {
            switch self {
            case .tooFewMessages(let n): "a session needs at least 8 messages (system events and a directory entry), got \(n)"
            }
        }
    }

    /// Builds the whole session in memory.
    public static func generate(_ options: Options) throws -> Session {
        guard options.messages >= 8 else { throw GeneratorError.tooFewMessages(options.messages) }
        var state = State(options: options)
        state.run()
        let packets = state.packetize()
        return Session(name: options.session, packets: packets, messageCount: state.messages.count, typeCounts: state.typeCounts)
    }

    /// The generator's working state: live orders, match numbers, clock.
    struct State {
        let options: Options
        var random: SplitMix64
        var messages: [(time: UInt64, bytes: [UInt8])] = []
        var typeCounts: [Character: Int] = [:]
        /// 09:29:59.990: the start-of-day messages come just before the open, so replaying the capture with its own
        /// pacing does not wait through the hours a real pre-market would take.
        var clock: UInt64 = 34_199_990_000_000
        var symbols: [String] = []
        var mids: [UInt32] = []
        var live: [UInt64] = []  // live order refs, for picking one at random
        var orders: [UInt64: (locate: UInt16, side: UInt8, price: UInt32, shares: UInt32, index: Int)] = [:]
        var nextRef: UInt64 = 1
        var nextMatch: UInt64 = 1
        let mpids = ["NSDQ", "GSCO", "MSCO", "JPMS", "CITD"]

        init(options: Options) {
            self.options = options
            random = SplitMix64(seed: options.seed)
        }

        mutating func emit(_ type: Character, locate: UInt16, _ values: [ITCHEncoder.Value]) {
            var bytes: [UInt8] = []
            // The schema drives the encoder; the generator only passes values of the right kinds.
            try! ITCHEncoder.append(type, locate: locate, tracking: 0, timestamp: clock, values, to: &bytes)
            messages.append((clock, bytes))
            typeCounts[type, default: 0] += 1
        }

        mutating func tick(_ mean: UInt64) {
            // Exponential inter-arrival times: bursts and lulls, like a real feed.
            let u = random.unit()
            clock += UInt64(-Double(mean) * log1p(-u * 0.999999)) + 1
        }

        mutating func run() {
            let fixed = 6  // S O, S S, S Q at the start; S M, S E, S C at the end
            let k = max(1, min(options.symbols, (options.messages - fixed) / 2))
            emit("S", locate: 0, [.int(UInt64(UInt8(ascii: "O")))])
            tick(10_000)
            emit("S", locate: 0, [.int(UInt64(UInt8(ascii: "S")))])
            for i in 0..<k {
                let symbol = Self.symbolName(i)
                symbols.append(symbol)
                mids.append(UInt32(10 + random.next() % 490) * 10_000)
                tick(1_000)
                emit(
                    "R", locate: UInt16(i + 1),
                    [
                        .text(symbol), "Q", "N", 100, "N", "C", "Z ", "P", "N", "N", "1", "N", 0, "N",
                    ])
            }
            for i in 0..<k {
                tick(1_000)
                emit("H", locate: UInt16(i + 1), [.text(symbols[i]), "T", " ", "    "])
            }
            clock = max(clock, 34_200_000_000_000)  // 09:30
            emit("S", locate: 0, [.int(UInt64(UInt8(ascii: "Q")))])
            let body = options.messages - messages.count - 3
            for _ in 0..<max(0, body) {
                tick(options.meanGapNanos)
                step()
            }
            for code in ["M", "E", "C"] {
                tick(100_000)
                emit("S", locate: 0, [.text(code)])
            }
        }

        static func symbolName(_ i: Int) -> String {
            let letters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
            var name = "", n = i
            repeat {
                name.append(letters[n % 26])
                n /= 26
            } while n > 0
            return "ZX" + name  // ZX... are not real listings, so nobody mistakes a test symbol for one
        }

        /// Weighted choice of the next message type, roughly a real day's mix.
        static let weights: [(Character, UInt64)] = [
            ("A", 380), ("F", 20), ("D", 300), ("U", 90), ("X", 40), ("E", 60), ("C", 8), ("P", 15), ("Q", 2),
            ("B", 1), ("I", 20), ("L", 2), ("Y", 2), ("N", 3), ("K", 1), ("J", 1), ("h", 1), ("V", 1), ("W", 1),
            ("H", 2), ("O", 1),
        ]
        static let totalWeight = weights.reduce(0) { $0 + $1.1 }

        mutating func pick(_ n: Int) -> Int { Int(random.next() % UInt64(n)) }

        mutating func step() {
            var roll = random.next() % Self.totalWeight
            var type: Character = "A"
            for (t, w) in Self.weights {
                if roll < w { type = t; break }
                roll -= w
            }
            // Order lifecycle messages need a live order; with none, add one.
            if "DUXEC".contains(type) && live.isEmpty { type = "A" }
            if type == "B" && nextMatch == 1 { type = "A" }
            let s = pick(symbols.count)
            let locate = UInt16(s + 1)
            let stock = ITCHEncoder.Value.text(symbols[s])
            switch type {
            case "A", "F":
                let side: UInt8 = random.next() & 1 == 0 ? UInt8(ascii: "B") : UInt8(ascii: "S")
                let price = priceAway(s, side: side)
                let shares = UInt32(100 * (1 + pick(10)))
                let ref = nextRef
                nextRef += 1
                var values: [ITCHEncoder.Value] = [
                    .int(ref), .int(UInt64(side)), .int(UInt64(shares)), stock, .int(UInt64(price)),
                ]
                if type == "F" { values.append(.text(mpids[pick(mpids.count)])) }
                emit(type, locate: locate, values)
                addLive(ref, locate: locate, side: side, price: price, shares: shares)
            case "D":
                let ref = live[pick(live.count)]
                emit("D", locate: orders[ref]!.locate, [.int(ref)])
                removeLive(ref)
            case "X":
                let ref = live[pick(live.count)]
                let o = orders[ref]!
                if o.shares <= 100 {
                    emit("D", locate: o.locate, [.int(ref)])
                    removeLive(ref)
                } else {
                    let canceled = UInt32(100 * (1 + pick(Int(o.shares / 100) - 1)))
                    emit("X", locate: o.locate, [.int(ref), .int(UInt64(canceled))])
                    orders[ref]!.shares -= canceled
                }
            case "U":
                let ref = live[pick(live.count)]
                let o = orders[ref]!
                let newRef = nextRef
                nextRef += 1
                let price = priceAway(Int(o.locate) - 1, side: o.side)
                let shares = UInt32(100 * (1 + pick(10)))
                emit("U", locate: o.locate, [.int(ref), .int(newRef), .int(UInt64(shares)), .int(UInt64(price))])
                removeLive(ref)
                addLive(newRef, locate: o.locate, side: o.side, price: price, shares: shares)
            case "E", "C":
                let ref = live[pick(live.count)]
                let o = orders[ref]!
                let executed = min(o.shares, UInt32(100 * (1 + pick(3))))
                let match = nextMatch
                nextMatch += 1
                if type == "E" {
                    emit("E", locate: o.locate, [.int(ref), .int(UInt64(executed)), .int(match)])
                } else {
                    let printable: ITCHEncoder.Value = pick(10) == 0 ? "N" : "Y"
                    emit(
                        "C", locate: o.locate, [.int(ref), .int(UInt64(executed)), .int(match), printable, .int(UInt64(o.price))])
                }
                if executed == o.shares { removeLive(ref) } else { orders[ref]!.shares -= executed }
            case "P":
                let side: UInt8 = random.next() & 1 == 0 ? UInt8(ascii: "B") : UInt8(ascii: "S")
                let match = nextMatch
                nextMatch += 1
                // Non-displayed orders: the reference is not one of the book's (NASDAQ sends 0 here today).
                emit(
                    "P", locate: locate,
                    [
                        0, .int(UInt64(side)), .int(UInt64(100 * (1 + pick(5)))), stock,
                        .int(UInt64(mids[s])), .int(match),
                    ])
            case "Q":
                let match = nextMatch
                nextMatch += 1
                emit(
                    "Q", locate: locate,
                    [
                        .int(UInt64(1000 * (1 + pick(50)))), stock, .int(UInt64(mids[s])), .int(match),
                        .text(["O", "C", "H"][pick(3)]),
                    ])
            case "B":
                emit("B", locate: locate, [.int(1 + random.next() % (nextMatch - 1))])
            case "I":
                emit(
                    "I", locate: locate,
                    [
                        .int(UInt64(100 * pick(100))), .int(UInt64(100 * pick(50))),
                        .text(["B", "S", "N", "O"][pick(4)]), stock, .int(UInt64(mids[s] + 100)),
                        .int(UInt64(mids[s] - 100)), .int(UInt64(mids[s])), .text(["O", "C", "H"][pick(3)]),
                        .text(["L", "1", "2", "A", " "][pick(5)]),
                    ])
            case "L":
                emit("L", locate: locate, [.text(mpids[pick(mpids.count)]), stock, "Y", "N", "A"])
            case "Y":
                emit("Y", locate: locate, [stock, .text(["0", "1", "2"][pick(3)])])
            case "N":
                emit("N", locate: locate, [stock, .text(["B", "S", "A", "N"][pick(4)])])
            case "K":
                emit("K", locate: locate, [stock, .int(UInt64(34_200 + pick(3_600))), "A", .int(UInt64(mids[s]))])
            case "J":
                emit(
                    "J", locate: locate,
                    [
                        stock, .int(UInt64(mids[s])), .int(UInt64(mids[s] + mids[s] / 10)),
                        .int(UInt64(mids[s] - mids[s] / 10)), .int(UInt64(pick(3))),
                    ])
            case "h":
                emit("h", locate: locate, [stock, "Q", .text(["H", "T"][pick(2)])])
            case "V":
                emit("V", locate: 0, [.int(4_300_00000000), .int(4_000_00000000), .int(3_600_00000000)])
            case "W":
                emit("W", locate: 0, [.text(["1", "2", "3"][pick(3)])])
            case "H":
                emit("H", locate: locate, [stock, "T", " ", "    "])
            case "O":
                emit(
                    "O", locate: locate,
                    [
                        stock, "Y", .int(UInt64(mids[s] - 1000)), .int(UInt64(mids[s] + 1000)),
                        .int(UInt64(mids[s])), .int(clock + 1_000_000_000), .int(UInt64(mids[s] - 2000)),
                        .int(UInt64(mids[s] + 2000)),
                    ])
            default:
                break
            }
        }

        /// A price 1 to 20 cents away from the stock's mid, on the side's own half of the book.
        mutating func priceAway(_ s: Int, side: UInt8) -> UInt32 {
            let away = UInt32(100 * (1 + pick(20)))
            return side == UInt8(ascii: "B") ? mids[s] - away : mids[s] + away
        }

        mutating func addLive(_ ref: UInt64, locate: UInt16, side: UInt8, price: UInt32, shares: UInt32) {
            orders[ref] = (locate, side, price, shares, live.count)
            live.append(ref)
        }

        mutating func removeLive(_ ref: UInt64) {
            guard let o = orders.removeValue(forKey: ref) else { return }
            let last = live.removeLast()
            if last != ref {
                live[o.index] = last
                orders[last]!.index = o.index
            }
        }

        /// Groups messages into MoldUDP64 packets of 1 to `maxMessagesPerPacket` messages under the MTU; a packet
        /// leaves when its last message is ready. The session ends with end-of-session packets.
        mutating func packetize() -> [Packet] {
            let builder = MoldUDP64Builder(session: options.session)
            var packets: [Packet] = []
            var i = 0
            var seq: UInt64 = 1
            while i < messages.count {
                let want = 1 + pick(options.maxMessagesPerPacket)
                var batch: [[UInt8]] = []
                var size = MoldUDP64Packet.headerSize
                while i < messages.count, batch.count < want, size + 2 + messages[i].bytes.count <= builder.maxPayload {
                    size += 2 + messages[i].bytes.count
                    batch.append(messages[i].bytes)
                    i += 1
                }
                let time = options.midnight + messages[i - 1].time
                packets.append(
                    Packet(
                        time: time, payload: builder.packet(first: seq, messages: batch),
                        firstSequence: seq, messageCount: batch.count))
                seq += UInt64(batch.count)
            }
            // A server sends end of session for a while in place of heartbeats, so that a line that lost the last
            // packets still learns where the session ended.
            let last = packets.last?.time ?? options.midnight
            for i in UInt64(1)...UInt64(options.endOfSessionRepeats) {
                packets.append(
                    Packet(
                        time: last + i * 1_000_000, payload: builder.endOfSession(next: seq),
                        firstSequence: seq, messageCount: 0))
            }
            return packets
        }
    }
}

/// SplitMix64: a small, fast, well-mixed deterministic generator (Steele, Lea, Flood 2014), so a seed always gives the
/// same session on every platform.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in [0, 1), uniform, from the next value's top 53 bits.
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// True with probability `p`; draws a number only when `p > 0` (a run without faults draws none).
    public mutating func chance(_ p: Double) -> Bool { p > 0 && unit() < p }
}
