/* The handshake scenarios: --count short TLS connections, at most
 * --pending at a time, each a handshake, MQTT CONNECT/CONNACK and
 * DISCONNECT, then waiting for the broker to close it. `handshakes_full`
 * never offers a session; `handshakes_resumed` first makes one full
 * handshake, keeps its session (with the broker's session ticket, RFC
 * 5077) and offers it on every timed connection; each one the broker did
 * not resume (SSL_session_reused) fails the run. Rate = connections
 * completed per second over the timed part. */
#include "tests/bench/bench.h"
#include "tests/bench/client.h"
#include "tests/bench/meter.h"
#include "tests/bench/net.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

struct hs_slot {
    struct bconn c;
    bool busy, closing; /* closing: DISCONNECT sent, the broker's close is success */
};

struct hs {
    const struct bench_opts *o;
    struct bench_result *r;
    int epfd;
    struct btls *tls;
    struct sockaddr_in dst;
    struct hs_slot *slot;
    long started, done, failed;
    bool keep_session; /* take the session of the next CONNACKed connection */
};

static int hs_packet(struct bconn *c, const struct mqtt_packet *p)
{
    struct hs *h = c->owner;
    struct hs_slot *s = &h->slot[c->index];
    if (p->type != MQTT_CONNACK) return 0;
    if (p->u.connack.return_code != 0) {
        result_fail(h->r, "CONNACK return code %d", p->u.connack.return_code);
        return -1;
    }
    if (h->keep_session) {
        SSL_SESSION_free(h->tls->resume);
        h->tls->resume = SSL_get1_session(c->ssl);
        h->keep_session = false;
    }
    s->closing = true;
    return put_ack(c, MQTT_DISCONNECT, 0) ? 0 : -1;
}

static int hs_open(struct hs *h, int i)
{
    struct hs_slot *s = &h->slot[i];
    char id[32];
    int rc = bconn_open(&s->c, h->epfd, &h->dst, NULL, 256, 256);
    if (rc == 0 && bconn_start_tls(&s->c, h->tls) < 0) rc = -ENOMEM;
    if (rc < 0) {
        result_fail(h->r, "connection %ld: %s", h->started, strerror(-rc));
        bconn_close(&s->c, h->epfd);
        return -1;
    }
    s->c.owner = h;
    s->c.index = i;
    s->busy = true;
    s->closing = false;
    snprintf(id, sizeof id, "hs-%d-%ld", (int)getpid(), h->started++);
    put_connect(&s->c, id, true);
    return 0;
}

static void hs_end(struct hs *h, struct hs_slot *s, bool ok)
{
    if (ok) {
        /* A clean end: without it OpenSSL marks the session not resumable
         * when the SSL is freed, and every later offer of it would fail. */
        SSL_set_shutdown(s->c.ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        h->done++;
    } else {
        h->failed++;
        bench_tls_failed(h->tls, h->r);
        result_fail(h->r, "connection %d failed or was closed by the broker before its CONNACK",
                    s->c.index);
    }
    bconn_close(&s->c, h->epfd);
    s->busy = false;
}

/* n connections, at most `pending` at a time; false on the first failure
 * (a broker that fails handshakes would otherwise be retried for long). */
static bool hs_batch(struct hs *h, long n, int pending, int64_t deadline)
{
    long goal = h->done + n, stop = h->started + n;
    struct epoll_event ev[256];
    while (h->done < goal && h->failed == 0) {
        if (now_ns() > deadline) {
            result_fail(h->r, "timeout: %ld of %ld connections done", h->done, goal);
            return false;
        }
        for (int i = 0; i < pending && h->started < stop; i++)
            if (!h->slot[i].busy && hs_open(h, i) < 0) return false;
        int k = epoll_wait(h->epfd, ev, 256, 10);
        for (int j = 0; j < k; j++) {
            struct bconn *c = ev[j].data.ptr;
            struct hs_slot *s = &h->slot[c->index];
            if (!s->busy) continue;
            if (bconn_event(c, h->epfd, ev[j].events, hs_packet) < 0) hs_end(h, s, s->closing);
        }
    }
    return h->failed == 0;
}

int scenario_handshakes(const struct bench_opts *o, struct bench_result *r)
{
    bool resume = strcmp(o->scenario, "handshakes_resumed") == 0;
    struct hs h = {.o = o, .r = r, .epfd = epoll_create1(EPOLL_CLOEXEC)};
    h.slot = calloc((size_t)o->pending, sizeof *h.slot);
    if (h.epfd < 0 || !h.slot || !bench_addr(&h.dst, o->host, o->port)) return -1;
    if (!(h.tls = bench_tls_new(o, r))) goto out;
    int64_t deadline = now_ns() + (int64_t)(o->timeout * 1e9);
    /* The session every timed connection offers. */
    h.keep_session = resume;
    if (resume && !hs_batch(&h, 1, 1, deadline)) goto out;
    if (resume && !h.tls->resume) {
        result_fail(r, "no session to resume after the first handshake");
        goto out;
    }
    h.tls->full = h.tls->resumed = 0;
    struct meter m;
    meter_start(&m, o->pid);
    int64_t t0 = now_ns();
    hs_batch(&h, o->count, o->pending, deadline);
    r->secs = (double)(now_ns() - t0) / 1e9;
    meter_stop(&m, r);
    r->sent = (uint64_t)h.started - (resume ? 1 : 0);
    r->msgs = r->received = (uint64_t)h.done - (resume ? 1 : 0);
    r->acked = h.tls->resumed;
    r->lost = r->sent - r->msgs;
    if (resume && h.tls->full)
        result_fail(r, "the broker did not resume %llu of %llu sessions offered (full handshakes)",
                    (unsigned long long)h.tls->full,
                    (unsigned long long)(h.tls->full + h.tls->resumed));
    if (!resume && h.tls->resumed)
        result_fail(r, "%llu handshakes resumed though no session was offered",
                    (unsigned long long)h.tls->resumed);
    if (o->pid > 0 && !proc_alive(o->pid)) result_fail(r, "broker process %d is gone", (int)o->pid);
out:
    for (int i = 0; i < o->pending; i++)
        if (h.slot[i].busy) bconn_close(&h.slot[i].c, h.epfd);
    free(h.slot);
    close(h.epfd);
    bench_tls_end(h.tls, r);
    return 0;
}
