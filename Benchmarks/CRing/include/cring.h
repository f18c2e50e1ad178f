// A plain C SPSC ring, written for comparison with DSICore.SPSCRing: the same design (power-of-two slots of 64 bytes,
// cache-line padded indices, each side's cached copy of the other's index, acquire/release only) and the same two
// measurements as `dsi bench ring`. Built by the Benchmarks package (the in-process comparison, RingCompare) and by
// Benchmarks/compare.sh with gcc (CRingTool/cring_bench.c).
#ifndef CRING_H
#define CRING_H
#include <stdint.h>

/// Messages per second: `messages` 64-byte messages from a producer pinned to `producer_cpu` to a consumer pinned to
/// `consumer_cpu`, which checks each one's sequence number.
double cring_stream(uint64_t messages, int producer_cpu, int consumer_cpu);

/// One-way latency percentiles in ns (round trip / 2) over `round_trips` ping-pongs through two rings, after 1000
/// unrecorded warm-up round trips.
void cring_pingpong(uint64_t round_trips, int producer_cpu, int consumer_cpu, uint64_t *p50, uint64_t *p99);

#endif
