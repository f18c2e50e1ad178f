import DSICore

/// Builds Ethernet/IPv4/UDP frames around a payload, for captures the generator writes. Multicast destinations get
/// the IEEE multicast MAC (01:00:5e + the group's low 23 bits), as a real capture would show.
public enum FrameBuilder {
    public static func udpFrame(
        payload: [UInt8], source: IPv4Address, sourcePort: UInt16, destination: IPv4Address, destinationPort: UInt16,
        identification: UInt16 = 0
    ) -> [UInt8] {
        var frame = [UInt8](repeating: 0, count: 14 + 20 + 8 + payload.count)
        frame.withUnsafeMutableBytes { raw in
            let p = raw.baseAddress!
            let d = destination.value
            if destination.isMulticast {
                let mac: [UInt8] = [0x01, 0x00, 0x5E, UInt8(d >> 16 & 0x7F), UInt8(d >> 8 & 0xFF), UInt8(d & 0xFF)]
                for (i, b) in mac.enumerated() { p.storeByte(b, at: i) }
            } else {
                for i in 0..<6 { p.storeByte(0x02, at: i) }
            }
            let sourceMAC: [UInt8] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01]  // locally administered
            for (i, b) in sourceMAC.enumerated() { p.storeByte(b, at: 6 + i) }
            p.storeBigEndian(UInt16(0x0800), at: 12)
            let ip = p + 14
            ip.storeByte(0x45, at: 0)
            ip.storeBigEndian(UInt16(20 + 8 + payload.count), at: 2)
            ip.storeBigEndian(identification, at: 4)
            ip.storeByte(1, at: 8)  // TTL
            ip.storeByte(17, at: 9)  // UDP
            ip.storeBigEndian(source.value, at: 12)
            ip.storeBigEndian(destination.value, at: 16)
            ip.storeBigEndian(checksum(UnsafeRawBufferPointer(start: ip, count: 20)), at: 10)
            let udp = ip + 20
            udp.storeBigEndian(sourcePort, at: 0)
            udp.storeBigEndian(destinationPort, at: 2)
            udp.storeBigEndian(UInt16(8 + payload.count), at: 4)
            // UDP checksum 0: "not computed", legal over IPv4.
            payload.withUnsafeBytes { (udp + 8).copyMemory(from: $0.baseAddress!, byteCount: payload.count) }
        }
        return frame
    }

    /// The Internet checksum (RFC 1071) of `bytes`.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
        var sum: UInt32 = 0
        var i = 0
        while i + 1 < bytes.count {
            sum += UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1])
            i += 2
        }
        if i < bytes.count { sum += UInt32(bytes[i]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }
}
