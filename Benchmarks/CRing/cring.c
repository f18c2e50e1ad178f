// The C ring and its two measurements (see include/cring.h).
#define _GNU_SOURCE
#include "cring.h"

#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLOTS 1024
#define SLOT_SIZE 64
#define PAD 128

typedef struct {
    _Alignas(PAD) uint64_t tail;              // written by the producer (__atomic builtins only)
    _Alignas(PAD) uint64_t producer_tail;     // producer-owned
    uint64_t producer_cached_head;
    _Alignas(PAD) uint64_t head;              // written by the consumer (__atomic builtins only)
    _Alignas(PAD) uint64_t consumer_head;     // consumer-owned
    uint64_t consumer_cached_tail;
    _Alignas(PAD) unsigned char slots[SLOTS][SLOT_SIZE];
} ring_t;

static inline void pause_cpu(void) { __builtin_ia32_pause(); }

static unsigned free_slots(ring_t *r, unsigned limit) {
    uint64_t t = r->producer_tail;
    uint64_t free = SLOTS - (t - r->producer_cached_head);
    if (free < limit) {
        r->producer_cached_head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
        free = SLOTS - (t - r->producer_cached_head);
    }
    return free < limit ? (unsigned)free : limit;
}
static inline unsigned char *producer_slot(ring_t *r, unsigned i) { return r->slots[(r->producer_tail + i) & (SLOTS - 1)]; }
static inline void commit(ring_t *r, unsigned n) { r->producer_tail += n; __atomic_store_n(&r->tail, r->producer_tail, __ATOMIC_RELEASE); }
static unsigned ready_slots(ring_t *r, unsigned limit) {
    uint64_t h = r->consumer_head;
    uint64_t ready = r->consumer_cached_tail - h;
    if (ready < limit) {
        r->consumer_cached_tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
        ready = r->consumer_cached_tail - h;
    }
    return ready < limit ? (unsigned)ready : limit;
}
static inline unsigned char *consumer_slot(ring_t *r, unsigned i) { return r->slots[(r->consumer_head + i) & (SLOTS - 1)]; }
static inline void release(ring_t *r, unsigned n) { r->consumer_head += n; __atomic_store_n(&r->head, r->consumer_head, __ATOMIC_RELEASE); }

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
static void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}
static ring_t *new_ring(void) {
    ring_t *r = aligned_alloc(PAD, sizeof(ring_t));
    memset(r, 0, sizeof(ring_t));
    return r;
}

typedef struct {
    ring_t *ring;
    uint64_t messages;
    int cpu;
} stream_job;

static void *stream_consumer(void *arg) {
    stream_job *job = arg;
    pin(job->cpu);
    uint64_t expected = 0;
    while (expected < job->messages) {
        unsigned n = ready_slots(job->ring, 32);
        if (n == 0) { pause_cpu(); continue; }
        for (unsigned i = 0; i < n; i++) {
            uint64_t v;
            memcpy(&v, consumer_slot(job->ring, i), 8);
            if (v != expected + i) { fprintf(stderr, "reordered\n"); exit(1); }
        }
        expected += n;
        release(job->ring, n);
    }
    return NULL;
}

double cring_stream(uint64_t messages, int producer_cpu, int consumer_cpu) {
    stream_job job = { new_ring(), messages, consumer_cpu };
    pthread_t consumer;
    pthread_create(&consumer, NULL, stream_consumer, &job);
    pin(producer_cpu);
    uint64_t start = now_ns(), sent = 0;
    while (sent < messages) {
        unsigned want = messages - sent < 32 ? (unsigned)(messages - sent) : 32;
        unsigned n = free_slots(job.ring, want);
        if (n == 0) { pause_cpu(); continue; }
        for (unsigned i = 0; i < n; i++) {
            unsigned char *slot = producer_slot(job.ring, i);
            uint64_t v = sent + i;
            memcpy(slot, &v, 8);
            for (int w = 1; w < SLOT_SIZE / 8; w++) memcpy(slot + 8 * w, &sent, 8);
        }
        commit(job.ring, n);
        sent += n;
    }
    pthread_join(consumer, NULL);
    double seconds = (now_ns() - start) / 1e9;
    free(job.ring);
    return messages / seconds;
}

typedef struct {
    ring_t *there, *back;
    uint64_t total;
    int cpu;
} echo_job;

static void *echo(void *arg) {
    echo_job *job = arg;
    pin(job->cpu);
    for (uint64_t k = 0; k < job->total; k++) {
        while (ready_slots(job->there, 1) == 0) pause_cpu();
        uint64_t v;
        memcpy(&v, consumer_slot(job->there, 0), 8);
        release(job->there, 1);
        while (free_slots(job->back, 1) == 0) pause_cpu();
        memcpy(producer_slot(job->back, 0), &v, 8);
        commit(job->back, 1);
    }
    return NULL;
}

static int compare(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void cring_pingpong(uint64_t round_trips, int producer_cpu, int consumer_cpu, uint64_t *p50, uint64_t *p99) {
    if (round_trips == 0) { *p50 = 0; *p99 = 0; return; }
    echo_job job = { new_ring(), new_ring(), round_trips + 1000, consumer_cpu };
    uint64_t *samples = malloc(sizeof(uint64_t) * round_trips);
    pthread_t echoer;
    pthread_create(&echoer, NULL, echo, &job);
    pin(producer_cpu);
    for (uint64_t k = 0; k < job.total; k++) {
        uint64_t t0 = now_ns();
        memcpy(producer_slot(job.there, 0), &k, 8);
        commit(job.there, 1);
        while (ready_slots(job.back, 1) == 0) pause_cpu();
        release(job.back, 1);
        uint64_t rtt = now_ns() - t0;
        if (k >= 1000) samples[k - 1000] = rtt / 2;
    }
    pthread_join(echoer, NULL);
    qsort(samples, round_trips, sizeof(uint64_t), compare);
    *p50 = samples[round_trips / 2];
    *p99 = samples[round_trips * 99 / 100];
    free(samples);
    free(job.there);
    free(job.back);
}
