import DSICore
import Glibc

/// Membership of multicast groups on an interface, held by a socket that receives none of their datagrams: what a
/// capture (`dsi record`) needs so that the kernel, and the switch through IGMP, deliver the groups to this host while
/// libpcap reads them off the interface. Left when released.
public final class MulticastMembership {
    private let fd: Int32
    public let groups: [IPv4Address]

    public init(groups: [IPv4Address], interface: IPv4Address) throws {
        self.groups = groups
        fd = try Socket.open(SOCK_DGRAM)
        do {
            // An ephemeral port: the groups' datagrams go to their own ports, so none queue up here unread.
            try Socket.bind(fd, IPv4Endpoint(address: IPv4Address(0), port: 0))
            for group in Set(groups.map(\.value)).sorted() {
                let membership = ip_mreq(
                    imr_multiaddr: in_addr(s_addr: group.bigEndian), imr_interface: in_addr(s_addr: interface.value.bigEndian))
                try Socket.setOption(
                    fd, Int32(IPPROTO_IP), IP_ADD_MEMBERSHIP, membership,
                    "IP_ADD_MEMBERSHIP \(IPv4Address(group)) on \(interface)")
            }
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }
}
