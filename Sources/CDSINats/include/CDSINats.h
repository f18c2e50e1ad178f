#ifndef CDSINATS_H
#define CDSINATS_H

#include <stdint.h>

/// A NATS connection for DSI's `nats` node, over the NATS C client (libnats): core publishes, or JetStream
/// publishes acknowledged asynchronously, where a publish the cluster did not acknowledge (a node lost, a leader
/// elected) is sent again with its message id, which the stream's duplicate window makes harmless. One thread
/// publishes; the library's own threads call back into the retry queue.
typedef struct dsi_nats dsi_nats;

typedef struct dsi_nats_counts {
    uint64_t published;  ///< publish calls the library took
    uint64_t resent;     ///< JetStream publishes sent again after a failed or missing acknowledgement
    uint64_t refused;    ///< publish calls refused for now (reconnect buffer full, too many unacknowledged)
    uint64_t disconnects;
    uint64_t reconnects;
} dsi_nats_counts;

/// Connects to `servers` (nats://HOST:PORT); with `stream`, makes a JetStream context and the stream on `subjects`
/// (replicas: `replicas`, file storage) unless it exists. 0, or -1 with a reason in `error`.
int dsi_nats_open(dsi_nats **out, const char **servers, int count, const char *stream, const char *subjects,
                  int replicas, char *error, int error_length);

/// Publishes one message. 0: taken; 1: not now (the caller keeps it and tries again later); -1: failed for good,
/// reason in `error`. `message_id` (JetStream only) identifies it to the stream's duplicate window.
int dsi_nats_publish(dsi_nats *n, const char *subject, const void *data, int length, const char *message_id,
                     char *error, int error_length);

/// Sends again what JetStream did not acknowledge, backing off from 100 ms to 2 s between tries while they keep
/// failing (a stream leader being elected); the number sent.
int dsi_nats_resend(dsi_nats *n);

/// Waits up to `timeout_ms` until everything published is with the server (core) or acknowledged by the stream
/// (JetStream, resending what fails). 0 when done, 1 when time ran out.
int dsi_nats_flush(dsi_nats *n, int timeout_ms);

/// 1 while connected.
int dsi_nats_connected(dsi_nats *n);

void dsi_nats_counts_get(dsi_nats *n, dsi_nats_counts *out);

/// The URL of the server it is connected to, or "".
void dsi_nats_server(dsi_nats *n, char *url, int length);

void dsi_nats_close(dsi_nats *n);

#endif
