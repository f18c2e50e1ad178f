// The C ring as a program of its own, printing what `dsi bench ring --json` prints (Benchmarks/compare.sh):
//   gcc -O2 -pthread -I Benchmarks/CRing/include -o cring_bench Benchmarks/CRing/cring.c Benchmarks/CRingTool/cring_bench.c
//   ./cring_bench [messages] [round_trips]
#include "cring.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    uint64_t messages = argc > 1 ? strtoull(argv[1], NULL, 10) : 20000000;
    uint64_t round_trips = argc > 2 ? strtoull(argv[2], NULL, 10) : 200000;
    double rate = cring_stream(messages, 0, 1);
    uint64_t p50, p99;
    cring_pingpong(round_trips, 0, 1, &p50, &p99);
    printf("{\"msgsPerSec\": %.0f, \"latencyP50Ns\": %llu, \"latencyP99Ns\": %llu}\n", rate, (unsigned long long)p50,
           (unsigned long long)p99);
    return 0;
}
