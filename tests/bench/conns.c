/* The `conns` scenario: N idle connections, each CONNECTed and SUBSCRIBEd
 * to its own topic, opened with a bounded number of handshakes in flight.
 * Broker memory per connection is the VmRSS growth divided by N; then a
 * PINGREQ on every connection checks that all of them are still served.
 * Beyond one source address's ephemeral ports, connections are spread
 * over 127.0.0.2, 127.0.0.3, ... (CONNS_PER_SOURCE each). */
#include "tests/bench/bench.h"
#include "tests/bench/client.h"
#include "tests/bench/meter.h"
#include "tests/bench/net.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

/* Well below the ~28k ephemeral ports of one address: connect() from a bound
 * address slows down sharply as one address fills up (measured: 19,000 on one
 * address connect 6x slower than on four). */
#define CONNS_PER_SOURCE 5000
#define ONE_SOURCE_MAX 20000

struct idle_set {
    const struct bench_opts *o;
    struct bench_result *r;
    int epfd;
    struct bconn *v;
    long opened, subscribed, failed, pongs;
    struct sockaddr_in dst;
    struct btls *tls; /* NULL: plain TCP */
};

static int idle_packet(struct bconn *c, const struct mqtt_packet *p)
{
    struct idle_set *s = c->owner;
    char topic[32];
    switch (p->type) {
    case MQTT_CONNACK:
        if (p->u.connack.return_code != 0) return -1;
        snprintf(topic, sizeof topic, "c/%d", c->index);
        return put_subscribe(c, 1, topic, 0) ? 0 : -1;
    case MQTT_SUBACK:
        if (p->u.suback.count != 1 || p->u.suback.codes[0] == MQTT_SUBACK_FAILURE) return -1;
        s->subscribed++;
        return 0;
    case MQTT_PINGRESP:
        s->pongs++;
        return 0;
    default:
        return 0;
    }
}

/* As root the hard limit may be raised up to fs.nr_open. */
static void raise_nofile(long want)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if ((long)rl.rlim_cur >= want) return;
    if ((long)rl.rlim_max < want) {
        struct rlimit hard = {(rlim_t)want, (rlim_t)want};
        if (setrlimit(RLIMIT_NOFILE, &hard) == 0) return;
    }
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
}

static void open_one(struct idle_set *s)
{
    struct bconn *c = &s->v[s->opened];
    struct sockaddr_in src;
    char id[32];
    long per = s->o->per_source ? s->o->per_source : CONNS_PER_SOURCE;
    bool spread = s->o->per_source > 0 || s->o->conns > ONE_SOURCE_MAX;
    if (spread) {
        char addr[32];
        snprintf(addr, sizeof addr, "127.0.%ld.%ld", (2 + s->opened / per) / 256,
                 (2 + s->opened / per) % 256);
        bench_addr(&src, addr, 0);
    }
    c->owner = s;
    c->index = (int)s->opened++;
    int rc = bconn_open(c, s->epfd, &s->dst, spread ? &src : NULL, 64, 64);
    if (rc == 0 && s->tls && bconn_start_tls(c, s->tls) < 0) rc = -ENOMEM;
    if (rc < 0) {
        result_fail(s->r, "connection %d: %s", c->index, strerror(-rc));
        bconn_close(c, s->epfd);
        s->failed++;
        return;
    }
    snprintf(id, sizeof id, "idle-%d-%d", (int)getpid(), c->index);
    put_connect(c, id, true);
}

static void poll_once(struct idle_set *s, int timeout_ms)
{
    struct epoll_event ev[1024];
    int n = epoll_wait(s->epfd, ev, 1024, timeout_ms);
    for (int k = 0; k < n; k++) {
        struct bconn *c = ev[k].data.ptr;
        if (c->state == BCONN_CLOSED) continue; /* closed earlier in this batch */
        if (bconn_event(c, s->epfd, ev[k].events, idle_packet) < 0) {
            bench_tls_failed(s->tls, s->r);
            result_fail(s->r, "connection %d failed or was closed by the broker", c->index);
            bconn_close(c, s->epfd);
            s->failed++;
        }
    }
}

static void connect_all(struct idle_set *s, int64_t deadline)
{
    long n = s->o->conns;
    while (s->subscribed + s->failed < n && now_ns() < deadline) {
        while (s->opened < n && s->opened - s->subscribed - s->failed < s->o->pending)
            open_one(s);
        poll_once(s, 10);
    }
}

static void ping_all(struct idle_set *s, int64_t deadline)
{
    for (long i = 0; i < s->opened; i++) {
        struct bconn *c = &s->v[i];
        if (c->state != BCONN_OPEN) continue;
        put_ack(c, MQTT_PINGREQ, 0);
        if (bconn_flush(c, s->epfd) < 0) s->failed++;
    }
    while (s->pongs < s->subscribed && now_ns() < deadline)
        poll_once(s, 10);
}

static void conns_judge(struct idle_set *s, long rss0, long rss1)
{
    struct bench_result *r = s->r;
    long n = s->o->conns;
    r->sent = (uint64_t)n;
    r->acked = (uint64_t)s->subscribed;
    r->received = r->msgs = (uint64_t)s->pongs;
    r->lost = (uint64_t)(n - s->pongs);
    if (rss0 >= 0 && rss1 >= 0 && s->subscribed > 0)
        r->per_conn_bytes = (rss1 - rss0) * 1024 / s->subscribed;
    if (s->subscribed < n)
        result_fail(r, "only %ld of %ld connections subscribed", s->subscribed, n);
    if (s->pongs < n) result_fail(r, "only %ld of %ld connections answered PINGREQ", s->pongs, n);
    if (s->o->pid > 0 && !proc_alive(s->o->pid))
        result_fail(r, "broker process %d is gone", (int)s->o->pid);
}

int scenario_conns(const struct bench_opts *o, struct bench_result *r)
{
    struct idle_set s = {.o = o, .r = r, .epfd = epoll_create1(EPOLL_CLOEXEC)};
    s.v = calloc((size_t)o->conns, sizeof *s.v);
    if (s.epfd < 0 || !s.v || !bench_addr(&s.dst, o->host, o->port)) return -1;
    if (o->tls_ca && !(s.tls = bench_tls_new(o, r))) {
        free(s.v);
        close(s.epfd);
        return 0;
    }
    raise_nofile(o->conns + 1024);
    int64_t t0 = now_ns(), deadline = t0 + (int64_t)(o->timeout * 1e9);
    struct meter m;
    meter_start(&m, o->pid);
    long rss0 = proc_rss_kb(o->pid);
    connect_all(&s, deadline);
    r->secs = (double)(now_ns() - t0) / 1e9;
    long rss1 = proc_rss_kb(o->pid);
    ping_all(&s, deadline);
    meter_stop(&m, r);
    r->rss_kb = rss1;
    conns_judge(&s, rss0, rss1);
    for (long i = 0; i < s.opened; i++)
        bconn_close(&s.v[i], s.epfd);
    free(s.v);
    close(s.epfd);
    bench_tls_end(s.tls, r);
    return 0;
}
