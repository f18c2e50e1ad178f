// The plain C sender the latency lab holds `dsi replay` against: reads a pcap (micro- or nanosecond, Ethernet,
// IPv4/UDP), and sends each datagram's payload to one group:port from 127.0.0.1 (TTL 0), spinning until each is due
// by the capture's own spacing, then sendto. Nothing else: no batching, no sleeping, no checks beyond the framing.
//
//   cc -O2 -o c_sender c_sender.c && ./c_sender CAPTURE.pcap GROUP PORT
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: c_sender CAPTURE.pcap GROUP PORT\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 1; }
    uint32_t header[6];
    if (fread(header, 4, 6, f) != 6) { fprintf(stderr, "%s: not a pcap\n", argv[1]); return 1; }
    int nano = header[0] == 0xa1b23c4d;
    if (!nano && header[0] != 0xa1b2c3d4) { fprintf(stderr, "%s: not a little-endian pcap\n", argv[1]); return 1; }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    unsigned char ttl = 0;
    struct in_addr loopback = {.s_addr = htonl(INADDR_LOOPBACK)};
    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl));
    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &loopback, sizeof(loopback));
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[3]))};
    inet_pton(AF_INET, argv[2], &to.sin_addr);
    static unsigned char frame[65536];
    uint64_t first = 0, start = 0, sent = 0;
    uint32_t record[4];
    while (fread(record, 4, 4, f) == 4) {
        uint32_t length = record[2];
        if (length > sizeof(frame) || fread(frame, 1, length, f) != length) break;
        uint64_t stamp = (uint64_t)record[0] * 1000000000ull + (uint64_t)record[1] * (nano ? 1 : 1000);
        // Ethernet (14) + IPv4 (IHL) + UDP (8)
        if (length < 42 || frame[12] != 0x08 || frame[13] != 0x00 || frame[23] != 17) continue;
        size_t ip = (size_t)(frame[14] & 0x0f) * 4;
        size_t payload = 14 + ip + 8;
        if (payload > length) continue;
        if (sent == 0) { first = stamp; start = now_ns(); }
        uint64_t due = start + (stamp - first);
        while (now_ns() < due) { }
        sendto(fd, frame + payload, length - payload, 0, (struct sockaddr *)&to, sizeof(to));
        sent++;
    }
    fprintf(stderr, "c_sender: %llu datagrams in %.3f s\n", (unsigned long long)sent, (now_ns() - start) / 1e9);
    return 0;
}
