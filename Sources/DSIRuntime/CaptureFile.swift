import DSICore
import DSIFeeds
import DSIPcap

/// Writes a generated session as a pcap: each MoldUDP64 packet in an Ethernet/IPv4/UDP frame to the feed's group.
public enum CaptureFile {
    public static let defaultGroup = IPv4Endpoint(address: IPv4Address(0xEFFF_0001), port: 30001)  // 239.255.0.1:30001
    public static let defaultSource = IPv4Endpoint(address: IPv4Address(0x7F00_0001), port: 40001)

    public static func write(_ session: SessionGenerator.Session, to path: String, group: IPv4Endpoint = defaultGroup) throws {
        let writer = try PcapWriter(path: path)
        for (i, packet) in session.packets.enumerated() {
            let frame = FrameBuilder.udpFrame(
                payload: packet.payload, source: defaultSource.address, sourcePort: defaultSource.port,
                destination: group.address, destinationPort: group.port, identification: UInt16(truncatingIfNeeded: i))
            writer.write(frame: frame, time: packet.time)
        }
        try writer.close()
    }
}
