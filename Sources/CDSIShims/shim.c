#ifndef _GNU_SOURCE
#error "CDSIShims needs _GNU_SOURCE (Package.swift defines it) for recvmmsg, sendmmsg and CPU affinity"
#endif

#include "CDSIShims.h"

#include <errno.h>
#include <ifaddrs.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

int CDSIShims_pin_current_thread(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return -pthread_setaffinity_np(pthread_self(), sizeof(set), &set);  // it returns the error; -errno like the rest
}

int CDSIShims_current_cpu(void) { return sched_getcpu(); }

int CDSIShims_cpu_is_allowed(int cpu) {
    cpu_set_t set;
    if (cpu < 0 || cpu >= CPU_SETSIZE) return 0;
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return 0;
    return CPU_ISSET(cpu, &set) ? 1 : 0;
}

int CDSIShims_set_timer_slack(unsigned long nanos) {
    return prctl(PR_SET_TIMERSLACK, nanos, 0, 0, 0) == 0 ? 0 : -errno;
}

void CDSIShims_set_thread_name(const char *name) {
    char truncated[16];
    strncpy(truncated, name, sizeof(truncated) - 1);
    truncated[sizeof(truncated) - 1] = 0;
    pthread_setname_np(pthread_self(), truncated);
}

int CDSIShims_SO_TIMESTAMPNS(void) { return SO_TIMESTAMPNS; }
int CDSIShims_SO_RXQ_OVFL(void) { return SO_RXQ_OVFL; }
int CDSIShims_SO_BUSY_POLL(void) { return SO_BUSY_POLL; }
int CDSIShims_SO_RCVBUFFORCE(void) { return SO_RCVBUFFORCE; }

int CDSIShims_interface_name(uint32_t address_be, char *name, size_t capacity) {
    struct ifaddrs *list = NULL;
    if (getifaddrs(&list) != 0) return -errno;
    int found = -ENODEV;
    for (struct ifaddrs *a = list; a != NULL; a = a->ifa_next) {
        if (a->ifa_addr == NULL || a->ifa_addr->sa_family != AF_INET) continue;
        if (((struct sockaddr_in *)a->ifa_addr)->sin_addr.s_addr != address_be) continue;
        strncpy(name, a->ifa_name, capacity - 1);
        name[capacity - 1] = 0;
        found = 0;
        break;
    }
    freeifaddrs(list);
    return found;
}

int CDSIShims_enable_hardware_timestamps(int fd, const char *interface) {
    struct hwtstamp_config config;
    memset(&config, 0, sizeof(config));
    struct ifreq request;
    memset(&request, 0, sizeof(request));
    strncpy(request.ifr_name, interface, IFNAMSIZ - 1);
    request.ifr_data = (char *)&config;
    // The setting is the device's, for every process: read it first and change only the receive filter, so that a
    // PTP daemon's transmit stamps (tx_type) stay as they were.
    if (ioctl(fd, SIOCGHWTSTAMP, &request) != 0) return -errno;
    if (config.rx_filter == HWTSTAMP_FILTER_ALL) return 0;
    config.rx_filter = HWTSTAMP_FILTER_ALL;
    if (ioctl(fd, SIOCSHWTSTAMP, &request) != 0) return -errno;
    // The driver writes back what it did: anything but ALL leaves some packets unstamped.
    return config.rx_filter == HWTSTAMP_FILTER_ALL ? 0 : -ERANGE;
}

int CDSIShims_request_timestamping(int fd) {
    int flags = SOF_TIMESTAMPING_RX_HARDWARE | SOF_TIMESTAMPING_RAW_HARDWARE | SOF_TIMESTAMPING_RX_SOFTWARE |
                SOF_TIMESTAMPING_SOFTWARE;
    if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof(flags)) != 0) return -errno;
    return 0;
}

// Room for one SCM_TIMESTAMPING (three timespecs; it also covers SCM_TIMESTAMPNS's one) and one SO_RXQ_OVFL (uint32)
// control message.
#define CONTROL_SPACE (CMSG_SPACE(sizeof(struct scm_timestamping)) + CMSG_SPACE(sizeof(uint32_t)))

static uint64_t timespec_ns(const struct timespec *ts) { return (uint64_t)ts->tv_sec * 1000000000ull + (uint64_t)ts->tv_nsec; }

int CDSIShims_recv_batch(int fd, void *const *buffers, const size_t *capacities, size_t *lengths,
                         uint64_t *timestamps_ns, unsigned count, uint32_t *kernel_drops, unsigned *hardware_stamped) {
    struct mmsghdr msgs[CDSIShims_MAX_BATCH];
    struct iovec iovs[CDSIShims_MAX_BATCH];
    // Aligned for cmsghdr; on the stack so a batch costs no allocation.
    union { char bytes[CONTROL_SPACE]; struct cmsghdr align; } control[CDSIShims_MAX_BATCH];
    if (count > CDSIShims_MAX_BATCH) count = CDSIShims_MAX_BATCH;
    for (unsigned i = 0; i < count; i++) {
        iovs[i].iov_base = buffers[i];
        iovs[i].iov_len = capacities[i];
        memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_control = control[i].bytes;
        msgs[i].msg_hdr.msg_controllen = sizeof(control[i].bytes);
    }
    int n;
    do {
        n = recvmmsg(fd, msgs, count, MSG_DONTWAIT, NULL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        struct msghdr *hdr = &msgs[i].msg_hdr;
        lengths[i] = (hdr->msg_flags & MSG_TRUNC) ? SIZE_MAX : msgs[i].msg_len;
        timestamps_ns[i] = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(hdr); c != NULL; c = CMSG_NXTHDR(hdr, c)) {
            if (c->cmsg_level != SOL_SOCKET) continue;
            if (c->cmsg_type == SCM_TIMESTAMPNS) {
                struct timespec ts;
                memcpy(&ts, CMSG_DATA(c), sizeof(ts));
                timestamps_ns[i] = timespec_ns(&ts);
            } else if (c->cmsg_type == SCM_TIMESTAMPING) {
                // [0] software, [1] legacy (unused), [2] raw hardware: the NIC's stamp when it gave one.
                struct scm_timestamping ts;
                memcpy(&ts, CMSG_DATA(c), sizeof(ts));
                uint64_t hardware = timespec_ns(&ts.ts[2]);
                if (hardware != 0 && hardware_stamped != NULL) (*hardware_stamped)++;
                timestamps_ns[i] = hardware != 0 ? hardware : timespec_ns(&ts.ts[0]);
            } else if (c->cmsg_type == SO_RXQ_OVFL && kernel_drops != NULL) {
                memcpy(kernel_drops, CMSG_DATA(c), sizeof(uint32_t));
            }
        }
    }
    return n;
}

int CDSIShims_send_batch(int fd, const void *const *buffers, const size_t *lengths, unsigned count,
                         uint32_t address_be, uint16_t port_be) {
    struct mmsghdr msgs[CDSIShims_MAX_BATCH];
    struct iovec iovs[CDSIShims_MAX_BATCH];
    struct sockaddr_in to;
    memset(&to, 0, sizeof(to));
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = address_be;
    to.sin_port = port_be;
    if (count > CDSIShims_MAX_BATCH) count = CDSIShims_MAX_BATCH;
    for (unsigned i = 0; i < count; i++) {
        iovs[i].iov_base = (void *)buffers[i];
        iovs[i].iov_len = lengths[i];
        memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &to;
        msgs[i].msg_hdr.msg_namelen = sizeof(to);
    }
    int n;
    do {
        n = sendmmsg(fd, msgs, count, 0);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

static volatile sig_atomic_t stop_flag = 0;

static void on_stop_signal(int signo) {
    (void)signo;
    stop_flag = 1;
}

void CDSIShims_install_stop_handlers(void) {
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    // A parent may have started us with these blocked (the mask is inherited across exec, and thread pools block
    // signals): unblock them, or a stop request would stay pending for ever. Threads started later inherit this.
    sigset_t wanted;
    sigemptyset(&wanted);
    sigaddset(&wanted, SIGINT);
    sigaddset(&wanted, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &wanted, NULL);
    CDSIShims_ignore_sigpipe();
}

void CDSIShims_ignore_sigpipe(void) { signal(SIGPIPE, SIG_IGN); }

int CDSIShims_stop_requested(void) { return stop_flag; }
void CDSIShims_request_stop(void) { stop_flag = 1; }

int CDSIShims_SSL_CTX_tls13_only(SSL_CTX *ctx) {
    return SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) && SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
}

int CDSIShims_SSL_set_sni(SSL *ssl, const char *name) { return (int)SSL_set_tlsext_host_name(ssl, name); }

EVP_PKEY *CDSIShims_EVP_EC_gen_p256(void) { return EVP_EC_gen("P-256"); }

void CDSIShims_openssl_error(char *buffer, size_t size) {
    unsigned long code = ERR_get_error();
    if (code == 0) {
        snprintf(buffer, size, "no OpenSSL error queued");
    } else {
        ERR_error_string_n(code, buffer, size);
    }
    ERR_clear_error();
}

int CDSIShims_x509_dns_name(X509 *cert, int index, char *out, size_t capacity) {
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    if (names == NULL) return -1;
    int found = -1, seen = 0;
    for (int i = 0; i < sk_GENERAL_NAME_num(names) && found < 0; i++) {
        const GENERAL_NAME *name = sk_GENERAL_NAME_value(names, i);
        if (name->type != GEN_DNS) continue;
        if (seen++ != index) continue;
        int length = ASN1_STRING_length(name->d.dNSName);
        if (length < 0 || (size_t)length >= capacity) break;
        memcpy(out, ASN1_STRING_get0_data(name->d.dNSName), (size_t)length);
        out[length] = 0;
        found = length;
    }
    GENERAL_NAMES_free(names);
    return found;
}

X509 *CDSIShims_SSL_peer_certificate(const SSL *ssl) { return SSL_get1_peer_certificate(ssl); }

static volatile sig_atomic_t reload_flag = 0;
static void on_reload_signal(int signal) {
    (void)signal;
    reload_flag = 1;
}

void CDSIShims_install_reload_handler(void) {
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = on_reload_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGHUP, &action, NULL);
    sigset_t wanted;
    sigemptyset(&wanted);
    sigaddset(&wanted, SIGHUP);
    pthread_sigmask(SIG_UNBLOCK, &wanted, NULL);
}

int CDSIShims_take_reload_request(void) {
    int requested = reload_flag;
    reload_flag = 0;
    return requested;
}

// ---- Kernel-paced sending -------------------------------------------------------------------------------------------

int CDSIShims_enable_txtime(int fd) {
    struct sock_txtime config = {.clockid = CLOCK_TAI, .flags = SOF_TXTIME_REPORT_ERRORS};
    return setsockopt(fd, SOL_SOCKET, SO_TXTIME, &config, sizeof(config)) == 0 ? 0 : -errno;
}

int CDSIShims_send_at(int fd, const void *buffer, size_t length, uint32_t address_be, uint16_t port_be,
                      uint64_t txtime_tai_ns) {
    struct sockaddr_in to;
    memset(&to, 0, sizeof(to));
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = address_be;
    to.sin_port = port_be;
    struct iovec iov = {.iov_base = (void *)buffer, .iov_len = length};
    char control[CMSG_SPACE(sizeof(uint64_t))];
    memset(control, 0, sizeof(control));
    struct msghdr message = {.msg_name = &to, .msg_namelen = sizeof(to), .msg_iov = &iov, .msg_iovlen = 1,
                             .msg_control = control, .msg_controllen = sizeof(control)};
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&message);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_TXTIME;
    cmsg->cmsg_len = CMSG_LEN(sizeof(uint64_t));
    memcpy(CMSG_DATA(cmsg), &txtime_tai_ns, sizeof(uint64_t));
    ssize_t n;
    do {
        n = sendmsg(fd, &message, 0);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : (int)n;
}

int CDSIShims_txtime_misses(int fd) {
    int misses = 0;
    for (;;) {
        char data[64];
        char control[256];
        struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
        struct msghdr message = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                                 .msg_controllen = sizeof(control)};
        ssize_t n = recvmsg(fd, &message, MSG_ERRQUEUE | MSG_DONTWAIT);
        if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? misses : -errno;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&message); c; c = CMSG_NXTHDR(&message, c)) {
            if (c->cmsg_level != SOL_IP || c->cmsg_type != IP_RECVERR) continue;
            struct sock_extended_err *e = (struct sock_extended_err *)CMSG_DATA(c);
            if (e->ee_origin == SO_EE_ORIGIN_TXTIME) misses++;
        }
    }
}

uint64_t CDSIShims_tai_nanos(void) {
    struct timespec now;
    clock_gettime(CLOCK_TAI, &now);
    return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

int CDSIShims_peer_uid(int fd, unsigned int *uid) {
    struct ucred credentials;
    socklen_t length = sizeof credentials;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return -errno;
    *uid = credentials.uid;
    return 0;
}
