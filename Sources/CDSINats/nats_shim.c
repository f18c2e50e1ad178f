#include "CDSINats.h"

#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct dsi_nats {
    natsOptions *options;
    natsConnection *connection;
    jsCtx *js;
    /// Messages JetStream did not acknowledge, handed over by the library's error callback.
    pthread_mutex_t lock;
    natsMsg **retry;
    int retry_length, retry_capacity;
    _Atomic uint64_t published, resent, refused, disconnects, reconnects;
    /// When the retry queue was last sent (monotonic s): failures come in bursts while the cluster elects a stream
    /// leader, and sending them again at once would only fail again, as a storm.
    double last_resend;
    /// The wait before the next resend: doubles (to 2 s) while resends keep failing, back to 100 ms once the queue
    /// was found empty.
    double resend_interval;
};

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void on_disconnected(natsConnection *nc, void *closure) {
    (void)nc;
    atomic_fetch_add(&((dsi_nats *)closure)->disconnects, 1);
}

static void on_reconnected(natsConnection *nc, void *closure) {
    (void)nc;
    atomic_fetch_add(&((dsi_nats *)closure)->reconnects, 1);
}

/// Called by the library when an asynchronous JetStream publish failed (no acknowledgement in time, no responder
/// while a stream leader is elected, an error from the stream): the message is kept to be sent again.
static void on_publish_error(jsCtx *js, jsPubAckErr *failure, void *closure) {
    (void)js;
    dsi_nats *n = closure;
    pthread_mutex_lock(&n->lock);
    if (n->retry_length == n->retry_capacity) {
        int capacity = n->retry_capacity ? n->retry_capacity * 2 : 1024;
        natsMsg **grown = realloc(n->retry, (size_t)capacity * sizeof *grown);
        if (grown == NULL) {
            pthread_mutex_unlock(&n->lock);
            return;  // the library destroys the message; counted as never acknowledged by the flush
        }
        n->retry = grown;
        n->retry_capacity = capacity;
    }
    n->retry[n->retry_length++] = failure->Msg;
    failure->Msg = NULL;  // ours now: the library does not destroy it
    pthread_mutex_unlock(&n->lock);
}

static void say(char *error, int length, const char *what, natsStatus s) {
    if (error && length > 0) {
        const char *last = nats_GetLastError(NULL);
        snprintf(error, (size_t)length, "%s: %s%s%s", what, natsStatus_GetText(s), last && *last ? " (" : "",
                 last && *last ? last : "");
        if (last && *last) strncat(error, ")", (size_t)length - strlen(error) - 1);
    }
}

int dsi_nats_open(dsi_nats **out, const char **servers, int count, const char *stream, const char *subjects,
                  int replicas, char *error, int error_length) {
    dsi_nats *n = calloc(1, sizeof *n);
    if (n == NULL) return -1;
    pthread_mutex_init(&n->lock, NULL);
    n->resend_interval = 0.1;
    natsStatus s = natsOptions_Create(&n->options);
    if (s == NATS_OK) s = natsOptions_SetServers(n->options, servers, count);
    // Reconnect for ever to any server of the cluster; while disconnected, up to 64 MiB of publishes wait in the
    // client, then publishes are refused for now (the node's ring holds the rest, under DSI's back-pressure rules).
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(n->options, -1);
    if (s == NATS_OK) s = natsOptions_SetReconnectWait(n->options, 250);
    if (s == NATS_OK) s = natsOptions_SetReconnectJitter(n->options, 100, 1000);
    if (s == NATS_OK) s = natsOptions_SetReconnectBufSize(n->options, 64 * 1024 * 1024);
    if (s == NATS_OK) s = natsOptions_SetTimeout(n->options, 2000);
    if (s == NATS_OK) s = natsOptions_SetPingInterval(n->options, 2000);
    if (s == NATS_OK) s = natsOptions_SetMaxPingsOut(n->options, 3);
    if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(n->options, on_disconnected, n);
    if (s == NATS_OK) s = natsOptions_SetReconnectedCB(n->options, on_reconnected, n);
    if (s == NATS_OK) s = natsConnection_Connect(&n->connection, n->options);
    if (s != NATS_OK) {
        say(error, error_length, "cannot connect", s);
        dsi_nats_close(n);
        return -1;
    }
    if (stream != NULL) {
        jsOptions o;
        jsOptions_Init(&o);
        o.Wait = 5000;
        o.PublishAsync.MaxPending = 4096;  // beyond this many unacknowledged, a publish waits StallWait, then says not now
        o.PublishAsync.StallWait = 1;
        o.PublishAsync.ErrHandler = on_publish_error;
        o.PublishAsync.ErrHandlerClosure = n;
        s = natsConnection_JetStream(&n->js, n->connection, &o);
        jsStreamInfo *info = NULL;
        jsErrCode code = 0;
        if (s == NATS_OK && js_GetStreamInfo(&info, n->js, stream, NULL, &code) != NATS_OK) {
            const char *list[] = {subjects};
            jsStreamConfig c;
            jsStreamConfig_Init(&c);
            c.Name = stream;
            c.Subjects = list;
            c.SubjectsLen = 1;
            c.Storage = js_FileStorage;
            c.Replicas = replicas;
            c.Duplicates = 120LL * 1000000000LL;  // ns: a resend within two minutes is recognised
            // Right after start the cluster may still be electing its meta leader: try for up to 10 s.
            for (int tries = 0; tries < 40; tries++) {
                s = js_AddStream(&info, n->js, &c, NULL, &code);
                if (s == NATS_OK) break;
                usleep(250000);
            }
            if (s != NATS_OK) {
                say(error, error_length, "cannot make the JetStream stream", s);
                dsi_nats_close(n);
                return -1;
            }
        }
        jsStreamInfo_Destroy(info);
        if (s != NATS_OK) {
            say(error, error_length, "cannot use JetStream", s);
            dsi_nats_close(n);
            return -1;
        }
    }
    *out = n;
    return 0;
}

int dsi_nats_publish(dsi_nats *n, const char *subject, const void *data, int length, const char *message_id,
                     char *error, int error_length) {
    natsStatus s;
    if (n->js != NULL) {
        jsPubOptions o;
        jsPubOptions_Init(&o);
        o.MsgId = message_id;
        o.MaxWait = 3000;  // no acknowledgement in 3 s: the error handler gets it back to send again
        s = js_PublishAsync(n->js, subject, data, length, &o);
    } else {
        s = natsConnection_Publish(n->connection, subject, data, length);
    }
    if (s == NATS_OK) {
        atomic_fetch_add(&n->published, 1);
        return 0;
    }
    // Too many unacknowledged, the reconnect buffer full, a reconnect in progress: not now.
    if (s == NATS_TIMEOUT || s == NATS_INSUFFICIENT_BUFFER || s == NATS_CONNECTION_DISCONNECTED || s == NATS_STALE_CONNECTION) {
        atomic_fetch_add(&n->refused, 1);
        return 1;
    }
    say(error, error_length, "publish", s);
    return -1;
}

int dsi_nats_resend(dsi_nats *n) {
    if (n->js == NULL) return 0;
    if (n->retry_length == 0) {  // a racy peek: the next call sees what this one missed
        n->resend_interval = 0.1;
        return 0;
    }
    double now = seconds();
    if (now - n->last_resend < n->resend_interval) return 0;
    n->last_resend = now;
    n->resend_interval = n->resend_interval < 1.0 ? n->resend_interval * 2 : 2.0;
    pthread_mutex_lock(&n->lock);
    natsMsg **batch = n->retry;
    int length = n->retry_length;
    n->retry = NULL;
    n->retry_length = n->retry_capacity = 0;
    pthread_mutex_unlock(&n->lock);
    jsPubOptions o;
    jsPubOptions_Init(&o);
    o.MaxWait = 3000;
    int sent = 0;
    for (int i = 0; i < length; i++) {
        // The message keeps its Nats-Msg-Id header. Not taken now (stalled): back to the queue for the next call.
        if (js_PublishMsgAsync(n->js, &batch[i], &o) == NATS_OK) {
            sent++;
            atomic_fetch_add(&n->resent, 1);
        } else {
            pthread_mutex_lock(&n->lock);
            if (n->retry_length == n->retry_capacity) {
                int capacity = n->retry_capacity ? n->retry_capacity * 2 : 1024;
                n->retry = realloc(n->retry, (size_t)capacity * sizeof *n->retry);
                n->retry_capacity = capacity;
            }
            n->retry[n->retry_length++] = batch[i];
            pthread_mutex_unlock(&n->lock);
        }
    }
    free(batch);
    return sent;
}

int dsi_nats_flush(dsi_nats *n, int timeout_ms) {
    double deadline = seconds() + timeout_ms / 1000.0;
    if (n->js == NULL) return natsConnection_FlushTimeout(n->connection, timeout_ms) == NATS_OK ? 0 : 1;
    while (seconds() < deadline) {
        jsPubOptions o;
        jsPubOptions_Init(&o);
        o.MaxWait = 500;
        natsStatus s = js_PublishAsyncComplete(n->js, &o);
        pthread_mutex_lock(&n->lock);
        int waiting = n->retry_length;
        pthread_mutex_unlock(&n->lock);
        if (s == NATS_OK && waiting == 0) return 0;
        if (waiting > 0) {
            usleep(50000);  // failures come in bursts while a stream leader is elected
            dsi_nats_resend(n);
        }
    }
    return 1;
}

int dsi_nats_connected(dsi_nats *n) {
    return natsConnection_Status(n->connection) == NATS_CONN_STATUS_CONNECTED;
}

void dsi_nats_counts_get(dsi_nats *n, dsi_nats_counts *out) {
    out->published = atomic_load(&n->published);
    out->resent = atomic_load(&n->resent);
    out->refused = atomic_load(&n->refused);
    out->disconnects = atomic_load(&n->disconnects);
    out->reconnects = atomic_load(&n->reconnects);
}

void dsi_nats_server(dsi_nats *n, char *url, int length) {
    if (length > 0) url[0] = 0;
    if (n->connection != NULL) natsConnection_GetConnectedUrl(n->connection, url, (size_t)length);
}

void dsi_nats_close(dsi_nats *n) {
    if (n == NULL) return;
    if (n->js != NULL) jsCtx_Destroy(n->js);
    if (n->connection != NULL) natsConnection_Destroy(n->connection);
    if (n->options != NULL) natsOptions_Destroy(n->options);
    pthread_mutex_lock(&n->lock);
    for (int i = 0; i < n->retry_length; i++) natsMsg_Destroy(n->retry[i]);
    free(n->retry);
    pthread_mutex_unlock(&n->lock);
    pthread_mutex_destroy(&n->lock);
    free(n);
}
