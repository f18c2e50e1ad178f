// CDSIShims: what Swift cannot import directly. Each symbol says why it exists.
#ifndef CDSISHIMS_H
#define CDSISHIMS_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>
#include <openssl/evp.h>

// ---- CPU ------------------------------------------------------------------------------------------------------------

/// A CPU pause hint for busy-wait loops (an intrinsic, so it has no Swift spelling). Inline: it sits in spin loops.
static inline void CDSIShims_cpu_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/// Starts loading the cache line at `p` for reading (a compiler builtin, no Swift spelling). Never faults.
static inline void CDSIShims_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }

/// Pins the calling thread to one CPU (`pthread_setaffinity_np` and `CPU_SET` are GNU extensions / macros).
/// Returns 0 or -errno (as every shim that can fail does).
int CDSIShims_pin_current_thread(int cpu);

/// The CPU the calling thread runs on now (`sched_getcpu` is a GNU extension), or -1.
int CDSIShims_current_cpu(void);
/// The user id of the process at the other end of Unix socket `fd` (SO_PEERCRED); 0 or -errno.
int CDSIShims_peer_uid(int fd, unsigned int *uid);

/// Whether `cpu` is in this process's allowed CPU set (`CPU_ISSET` is a macro).
int CDSIShims_cpu_is_allowed(int cpu);

/// Sets the calling thread's timer slack in ns (`prctl(PR_SET_TIMERSLACK)`, a variadic call Swift cannot make):
/// the default 50 µs slack would stretch every short sleep of an idle worker. Returns 0 or -errno.
int CDSIShims_set_timer_slack(unsigned long nanos);

/// Names the calling thread (shown by top/ps), truncated to 15 bytes (`pthread_setname_np` is a GNU extension).
void CDSIShims_set_thread_name(const char *name);

// ---- Certificates ---------------------------------------------------------------------------------------------------

/// The `index`-th DNS name of the certificate's subjectAltName, copied NUL-terminated into `out` (the GENERAL_NAME
/// stack is reached only through `sk_` macros). Returns its length, or -1 when there is no such name.
int CDSIShims_x509_dns_name(X509 *cert, int index, char *out, size_t capacity);

/// The certificate of the TLS peer, with a reference the caller frees (`SSL_get_peer_certificate` is a macro in some
/// OpenSSL versions, a function in others). NULL when the peer sent none.
X509 *CDSIShims_SSL_peer_certificate(const SSL *ssl);

// ---- Signals for reloading ------------------------------------------------------------------------------------------

/// Installs a SIGHUP handler that only sets a flag (the async-signal-safe way), for `dsi run` to reload its
/// certificates and entitlements.
void CDSIShims_install_reload_handler(void);
/// Whether SIGHUP arrived since the last call (clears it).
int CDSIShims_take_reload_request(void);

// ---- Sockets --------------------------------------------------------------------------------------------------------

/// Socket option constants that glibc defines through conditional macros Swift does not import.
int CDSIShims_SO_TIMESTAMPNS(void);
int CDSIShims_SO_RXQ_OVFL(void);
int CDSIShims_SO_BUSY_POLL(void);
int CDSIShims_SO_RCVBUFFORCE(void);

/// The largest batch `CDSIShims_recv_batch` and `CDSIShims_send_batch` take in one call.
#define CDSIShims_MAX_BATCH 64

/// Receives up to `count` datagrams with one `recvmmsg` (a GNU extension with GNU-only structs), each straight into
/// `buffers[i]` (capacity `capacities[i]`), without blocking. Writes each datagram's length, its receive time in ns
/// (0 if absent): `SO_TIMESTAMPNS`'s, or with `SO_TIMESTAMPING` the NIC's hardware stamp when there is one (counted in
/// `*hardware_stamped`) and the kernel's software stamp otherwise; and, when `SO_RXQ_OVFL` is on, the socket's
/// cumulative kernel drop counter (unchanged if absent). Truncated datagrams get their length set to `SIZE_MAX`.
/// Returns the number received, 0 when none is waiting, or -errno.
int CDSIShims_recv_batch(int fd, void *const *buffers, const size_t *capacities, size_t *lengths,
                         uint64_t *timestamps_ns, unsigned count, uint32_t *kernel_drops, unsigned *hardware_stamped);

/// The name of the interface that has IPv4 address `address_be` (`getifaddrs`), for interface ioctls.
/// Returns 0, or -ENODEV when no interface has it, or -errno.
int CDSIShims_interface_name(uint32_t address_be, char *name, size_t capacity);

/// Turns on hardware receive timestamps for every packet on `interface` (`SIOCGHWTSTAMP`, then `SIOCSHWTSTAMP` with
/// `HWTSTAMP_FILTER_ALL` and the device's transmit setting unchanged; the linux/net_tstamp.h structs are not
/// importable). Returns 0 or -errno (EOPNOTSUPP: the NIC or driver has none; ERANGE: it cannot stamp every packet).
int CDSIShims_enable_hardware_timestamps(int fd, const char *interface);

/// Asks `fd` for `SO_TIMESTAMPING` receive stamps: hardware (raw) where the NIC gives them, software otherwise.
/// Returns 0 or -errno.
int CDSIShims_request_timestamping(int fd);

/// Sends `count` datagrams to one IPv4 destination with one `sendmmsg` (a GNU extension).
/// Returns the number sent or -errno.
int CDSIShims_send_batch(int fd, const void *const *buffers, const size_t *lengths, unsigned count,
                         uint32_t address_be, uint16_t port_be);

/// Kernel-paced sending (`SO_TXTIME`): each datagram carries the CLOCK_TAI time it should leave at, and an `etf` (or
/// `fq`) qdisc on the device holds it until then. Asks for late packets to be reported on the error queue.
/// Returns 0 or -errno (ENOPROTOOPT: the kernel has no SO_TXTIME).
int CDSIShims_enable_txtime(int fd);
/// Sends one datagram to leave at `txtime_tai_ns` (CLOCK_TAI). Returns the bytes sent or -errno.
int CDSIShims_send_at(int fd, const void *buffer, size_t length, uint32_t address_be, uint16_t port_be,
                      uint64_t txtime_tai_ns);
/// Drains the socket's error queue; returns how many datagrams the qdisc dropped for missing their time (or an
/// invalid one), or -errno.
int CDSIShims_txtime_misses(int fd);
/// CLOCK_TAI now, ns.
uint64_t CDSIShims_tai_nanos(void);

// ---- Signals --------------------------------------------------------------------------------------------------------

/// Installs SIGINT/SIGTERM handlers that only set a flag (a handler must be async-signal-safe, which Swift code is not).
void CDSIShims_install_stop_handlers(void);
/// Ignores SIGPIPE for the process: a peer that vanished must turn a socket write into EPIPE, not kill the process
/// (libuv and OpenSSL write with plain write(2), which raises it). Idempotent.
void CDSIShims_ignore_sigpipe(void);
/// Whether SIGINT or SIGTERM arrived since the handlers were installed.
int CDSIShims_stop_requested(void);
/// Raises the stop flag from code (tests, the demo) exactly as a signal would.
void CDSIShims_request_stop(void);

// ---- OpenSSL --------------------------------------------------------------------------------------------------------

/// `SSL_CTX_set_min_proto_version` / `_max_` are macros over `SSL_CTX_ctrl`: pins a context to TLS 1.3 only.
int CDSIShims_SSL_CTX_tls13_only(SSL_CTX *ctx);
/// `SSL_set_tlsext_host_name` is a macro over `SSL_ctrl`.
int CDSIShims_SSL_set_sni(SSL *ssl, const char *name);
/// `EVP_EC_gen` is a macro: a new P-256 key.
EVP_PKEY *CDSIShims_EVP_EC_gen_p256(void);
/// The last OpenSSL error as text in `buffer` (drains the thread's error queue), for error messages.
void CDSIShims_openssl_error(char *buffer, size_t size);

#endif
