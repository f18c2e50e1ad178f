import DSICore
import DSINet
import DSIRuntime
import DSITools
import Testing

@Suite struct MulticastTests {
    /// Real loopback multicast: datagrams land in ring slots with their bytes, a kernel timestamp and the line index.
    @Test func receivesIntoRingSlots() throws {
        let port = try FreePort.udp()
        let group = IPv4Endpoint(address: IPv4Address("239.255.7.7")!, port: port)
        let receiver = try MulticastReceiver(.init(group: group, interface: IPv4Address("127.0.0.1")!), line: 3)
        let sender = try MulticastSender()
        let ring = SPSCRing(capacity: 64, slotSize: 2048)
        let before = Clock.realtimeNanos()
        for i in 0..<10 { try sender.send([UInt8](repeating: UInt8(i), count: 100 + i), to: group) }
        var received = 0
        let deadline = Clock.monotonicNanos() + 2_000_000_000
        while received < 10 && Clock.monotonicNanos() < deadline {
            received += try receiver.receive(into: ring)
            if received < 10 { Clock.sleep(nanos: 1_000_000) }
        }
        #expect(received == 10)
        for i in 0..<10 {
            let slot = ring.consumerSlot(i)
            #expect(PacketSlot.length(slot) == 100 + i)
            #expect(PacketSlot.line(slot) == 3)
            #expect(PacketSlot.payload(slot).load(fromByteOffset: 99, as: UInt8.self) == UInt8(i))
            #expect(PacketSlot.receiveTime(slot) >= before)
        }
        #expect(receiver.kernelDrops.load == 0)
    }

    /// Kernel-paced sending's plumbing: with SO_TXTIME on, each datagram goes out through sendmsg with its
    /// SCM_TXTIME time and arrives whole. (Loopback's noqueue qdisc sends at once, so what this cannot show is the
    /// pacing itself: that is the etf qdisc's, and `dsi replay --txtime` refuses a device without one.)
    @Test func txTimeDatagramsArriveWhole() throws {
        let port = try FreePort.udp()
        let group = IPv4Endpoint(address: IPv4Address("239.255.7.12")!, port: port)
        let receiver = try MulticastReceiver(.init(group: group, interface: IPv4Address("127.0.0.1")!), line: 0)
        let sender = try MulticastSender()
        try sender.enableTxTime()
        let tai = MulticastSender.taiNanos()
        for i in 0..<8 {
            try [UInt8](repeating: UInt8(i), count: 200 + i).withUnsafeBytes {
                try sender.send($0, to: group, at: tai + UInt64(i) * 100_000)
            }
        }
        let ring = SPSCRing(capacity: 16, slotSize: 2048)
        var received = 0
        let deadline = Clock.monotonicNanos() + 2_000_000_000
        while received < 8 && Clock.monotonicNanos() < deadline {
            received += try receiver.receive(into: ring)
            if received < 8 { Clock.sleep(nanos: 1_000_000) }
        }
        #expect(received == 8)
        for i in 0..<received {
            let slot = ring.consumerSlot(i)
            #expect(PacketSlot.length(slot) == 200 + i)
            #expect(PacketSlot.payload(slot).load(fromByteOffset: 199, as: UInt8.self) == UInt8(i))
        }
        #expect(try sender.txTimeMisses() == 0)
    }

    /// A full ring is back-pressure: nothing is taken from the socket until slots free up, and nothing is lost.
    /// The receive time is the kernel's stamp from when each datagram arrived, not the time it was read: read 50 ms
    /// later, every stamp still lies within a few ms of the send. With `.hardware` on loopback the NIC cannot be
    /// asked (the reason is kept), and SO_TIMESTAMPING's software stamp is used.
    @Test(arguments: [Timestamps.software, .hardware])
    func receiveTimesAreTheKernelsStamps(timestamps: Timestamps) throws {
        let port = try FreePort.udp()
        let group = IPv4Endpoint(address: IPv4Address("239.255.7.10")!, port: port)
        var options = MulticastReceiver.Options(group: group, interface: IPv4Address("127.0.0.1")!)
        options.timestamps = timestamps
        let receiver = try MulticastReceiver(options, line: 0)
        let sender = try MulticastSender()
        let ring = SPSCRing(capacity: 64, slotSize: 2048)
        // The kernel turns receive stamping on for the first socket that asks from a workqueue, a moment later
        // (net_enable_timestamp): datagrams in between are stamped when read. Other sockets kept it on when this
        // ran among other suites; alone it failed every time without this pause.
        Clock.sleep(nanos: 50_000_000)
        let before = Clock.realtimeNanos()
        for i in 0..<5 { try sender.send([UInt8(i)], to: group) }
        let sent = Clock.realtimeNanos()
        Clock.sleep(nanos: 50_000_000)
        #expect(try receiver.receive(into: ring) == 5)
        for i in 0..<5 {
            let stamp = PacketSlot.receiveTime(ring.consumerSlot(i))
            #expect(stamp >= before && stamp < sent + 20_000_000, "stamped on arrival, not when read")
        }
        #expect(receiver.hardwareStamped.load == 0, "loopback has no NIC clock")
        if timestamps == .hardware {
            #expect(receiver.hardwareUnavailable?.contains("lo") == true, "\(receiver.hardwareUnavailable ?? "nil")")
        } else {
            #expect(receiver.hardwareUnavailable == nil)
        }
    }

    @Test func fullRingLeavesDatagramsInTheKernel() throws {
        let port = try FreePort.udp()
        let group = IPv4Endpoint(address: IPv4Address("239.255.7.8")!, port: port)
        let receiver = try MulticastReceiver(.init(group: group, interface: IPv4Address("127.0.0.1")!), line: 0)
        let sender = try MulticastSender()
        let ring = SPSCRing(capacity: 4, slotSize: 2048)
        for i in 0..<6 { try sender.send([UInt8(i)], to: group) }
        Clock.sleep(nanos: 20_000_000)
        #expect(try receiver.receive(into: ring) == 4)
        #expect(try receiver.receive(into: ring) == 0)
        ring.release(4)
        #expect(try receiver.receive(into: ring) == 2)
        #expect(PacketSlot.payload(ring.consumerSlot(1)).load(as: UInt8.self) == 5)
    }

    @Test func joiningOnAMissingInterfaceFails() throws {
        let group = IPv4Endpoint(address: IPv4Address("239.255.7.9")!, port: try FreePort.udp())
        #expect { try MulticastReceiver(.init(group: group, interface: IPv4Address("192.0.2.77")!), line: 0) } throws: {
            "\($0)".contains("IP_ADD_MEMBERSHIP")
        }
    }
}
