import CPcap
import DSICore

/// Finds the IPv4/UDP datagram in a captured frame: Ethernet (with any number of 802.1Q/802.1ad tags), Linux cooked
/// (SLL, SLL2) or raw IP. Bounds are checked at every step: a damaged frame is classified, never read past its end.
public enum FrameParser {
    public struct UDP {
        public var source: IPv4Address
        public var destination: IPv4Address
        public var sourcePort: UInt16
        public var destinationPort: UInt16
        public var payload: UnsafeRawBufferPointer
    }

    public enum Result {
        case datagram(UDP)
        case notIPv4UDP
        case truncated
        case fragment
        case malformed
    }

    static let linuxSLL2: Int32 = 276
    /// Raw IP as a file's header names it (libpcap's `DLT_RAW` differs by platform).
    static let linkTypeRaw: Int32 = 101
    /// Raw IPv4.
    static let linkTypeIPv4: Int32 = 228

    public static func supports(linkType: Int32) -> Bool {
        [DLT_EN10MB, DLT_LINUX_SLL, linuxSLL2, DLT_RAW, linkTypeRaw, linkTypeIPv4].contains(linkType)
    }

    public static func udp(in frame: UnsafeRawBufferPointer, linkType: Int32, wireLength: Int) -> Result {
        guard let base = frame.baseAddress else { return .truncated }
        let n = frame.count
        var offset: Int
        var etherType: UInt16
        switch linkType {
        case DLT_EN10MB:
            guard n >= 14 else { return .truncated }
            offset = 12
            etherType = base.bigEndianU16(at: offset)
            offset += 2
            while etherType == 0x8100 || etherType == 0x88A8 {  // VLAN tags: skip the 4-byte tag
                guard n >= offset + 4 else { return .truncated }
                etherType = base.bigEndianU16(at: offset + 2)
                offset += 4
            }
        case DLT_LINUX_SLL:
            guard n >= 16 else { return .truncated }
            etherType = base.bigEndianU16(at: 14)
            offset = 16
        case linuxSLL2:
            guard n >= 20 else { return .truncated }
            etherType = base.bigEndianU16(at: 0)
            offset = 20
        default:  // raw IP
            etherType = 0x0800
            offset = 0
        }
        guard etherType == 0x0800 else { return .notIPv4UDP }
        guard n >= offset + 20 else { return n < wireLength ? .truncated : .malformed }
        let ip = base + offset
        let versionIHL = ip.byte(at: 0)
        guard versionIHL >> 4 == 4 else { return .notIPv4UDP }
        let ihl = Int(versionIHL & 0x0F) * 4
        let totalLength = Int(ip.bigEndianU16(at: 2))
        guard ihl >= 20, totalLength >= ihl else { return .malformed }
        guard ip.byte(at: 9) == 17 else { return .notIPv4UDP }
        let fragment = ip.bigEndianU16(at: 6)
        if fragment & 0x3FFF != 0 { return .fragment }  // more-fragments flag or a non-zero offset
        guard n >= offset + totalLength else { return n < wireLength ? .truncated : .malformed }
        guard totalLength >= ihl + 8 else { return .malformed }
        let udp = ip + ihl
        let udpLength = Int(udp.bigEndianU16(at: 4))
        guard udpLength >= 8, udpLength <= totalLength - ihl else { return .malformed }
        return .datagram(
            UDP(
                source: IPv4Address(ip.bigEndianU32(at: 12)), destination: IPv4Address(ip.bigEndianU32(at: 16)),
                sourcePort: udp.bigEndianU16(at: 0), destinationPort: udp.bigEndianU16(at: 2),
                payload: UnsafeRawBufferPointer(start: udp + 8, count: udpLength - 8)))
    }
}
