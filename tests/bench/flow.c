/* The message-flow scenarios: connect and subscribe everyone, then publish
 * and receive in one epoll loop until every message arrived, the broker
 * stalled or the wall-clock limit passed; then judge what arrived. */
#include "tests/bench/flow.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define STALL_NS 2000000000LL /* no delivery for this long after the last send */

static int open_all(struct flow *f, const struct sockaddr_in *dst)
{
    const struct bench_opts *o = f->o;
    char id[32];
    for (int i = 0; i < o->pubs + o->subs; i++) {
        bool pub = i < o->pubs;
        struct bconn *c = pub ? &f->pubs[i].c : &f->subs[i - o->pubs].c;
        /* A publisher's buffer also keeps room for a PUBREL per window slot. */
        size_t wcap = 256 * 1024 + (pub ? 4 * (size_t)o->inflight + 64 : 0);
        int rc = bconn_open(c, f->epfd, dst, NULL, 256 * 1024, wcap);
        if (rc < 0) {
            result_fail(f->r, "connect: %s", strerror(-rc));
            return -1;
        }
        c->owner = f;
        c->index = i;
        if (f->tls && bconn_start_tls(c, f->tls) < 0) return -1;
        /* A persistent subscriber needs the same id in every run, so a broker
         * that kept its session from before would show (session present). */
        bool clean = pub || o->clean;
        if (clean)
            snprintf(id, sizeof id, "bench-%d-%c%d", (int)getpid(), pub ? 'p' : 's',
                     pub ? i : i - o->pubs);
        else
            snprintf(id, sizeof id, "bench-sub-%d", i - o->pubs);
        put_connect(c, id, clean);
        if (pub && (!pubwin_init(&f->pubs[i].win, (uint32_t)o->inflight) ||
                    !(f->pubs[i].acked_bits = calloc(f->per_pub / 8 + 1, 1))))
            return -1;
        if (!pub && !(f->subs[i - o->pubs].rel = calloc(65536 / 8, 1))) return -1;
    }
    return 0;
}

/* Dispatches one epoll_wait worth of events; -1 when a connection died. */
static int handle_events(struct flow *f, int64_t timeout_ns)
{
    struct epoll_event ev[256];
    struct timespec ts = {timeout_ns / 1000000000, timeout_ns % 1000000000};
    int n = epoll_pwait2(f->epfd, ev, 256, &ts, NULL);
    if (n < 0) return errno == EINTR ? 0 : -1;
    f->now = now_ns();
    for (int k = 0; k < n; k++) {
        struct bconn *c = ev[k].data.ptr;
        if (bconn_event(c, f->epfd, ev[k].events, flow_on_packet) < 0) {
            bool pub = c->index < f->o->pubs;
            if (bench_tls_failed(f->tls, f->r)) return -1;
            result_fail(f->r, "%s %d: connection failed or closed by the broker",
                        pub ? "publisher" : "subscriber", pub ? c->index : c->index - f->o->pubs);
            return -1;
        }
    }
    return 0;
}

static bool all_done(const struct flow *f)
{
    const struct bench_opts *o = f->o;
    for (int i = 0; i < o->pubs; i++)
        if (f->pubs[i].sent < f->per_pub || (o->qos > 0 && f->pubs[i].acked < f->per_pub))
            return false;
    return f->distinct >= f->per_pub * (uint64_t)o->pubs * (uint64_t)o->subs;
}

/* Next epoll timeout: 0 while a publisher can write more, the next paced
 * send time when pacing, else a short wait for acknowledgements. */
static int64_t pump_all(struct flow *f)
{
    bool more = false;
    for (int i = 0; i < f->o->pubs; i++) {
        f->now = now_ns();
        if (!f->t_start) {
            f->t_start = f->now;
            meter_start(&f->meter, f->o->pid);
        }
        more |= flow_pump(f, i);
    }
    if (more) return 0;
    if (f->o->rate > 0) {
        int64_t next =
            f->t_start + (int64_t)((double)(f->total_sent + 1) * 1e9 / (double)f->o->rate);
        int64_t wait = next - now_ns();
        return wait < 0 ? 0 : (wait > 10000000 ? 10000000 : wait);
    }
    return 10000000;
}

static bool stalled(const struct flow *f)
{
    int64_t last = f->t_progress > f->t_start ? f->t_progress : f->t_start;
    return f->now - last > STALL_NS;
}

static void run_loop(struct flow *f, int64_t deadline)
{
    const struct bench_opts *o = f->o;
    while (f->ready_pubs < o->pubs || f->ready_subs < o->subs) {
        if (now_ns() > deadline) {
            result_fail(f->r, "timeout while connecting (%d/%d publishers, %d/%d subscribers)",
                        f->ready_pubs, o->pubs, f->ready_subs, o->subs);
            return;
        }
        if (handle_events(f, 10000000) < 0) return;
    }
    while (!all_done(f)) {
        int64_t timeout = pump_all(f);
        if (handle_events(f, timeout) < 0) return;
        if (f->now > deadline) {
            snprintf(f->end, sizeof f->end, "timeout after %.0f s", o->timeout);
            return;
        }
        if (stalled(f)) {
            uint64_t all = f->per_pub * (uint64_t)o->pubs;
            if (o->qos > 0 || f->total_sent < all)
                snprintf(f->end, sizeof f->end,
                         "stalled: nothing delivered or acknowledged for 2 s, %llu of %llu sent",
                         (unsigned long long)f->total_sent, (unsigned long long)all);
            return;
        }
    }
}

/* Counts messages the broker acknowledged that some subscriber never got. */
static uint64_t acked_lost(const struct flow *f)
{
    uint64_t n = 0;
    for (int s = 0; s < f->o->subs; s++)
        for (int p = 0; p < f->o->pubs; p++)
            for (uint64_t q = 0; q < f->pubs[p].sent; q++)
                if (((f->pubs[p].acked_bits[q >> 3] >> (q & 7)) & 1) &&
                    !track_seen(&f->track, s, p, q))
                    n++;
    return n;
}

static void verdict(struct flow *f)
{
    struct bench_result *r = f->r;
    const struct bench_opts *o = f->o;
    uint64_t sent[1000], distinct;
    r->sent = r->acked = 0;
    for (int i = 0; i < o->pubs; i++) {
        sent[i] = f->pubs[i].sent;
        r->sent += f->pubs[i].sent;
        r->acked += f->pubs[i].acked;
    }
    track_totals(&f->track, sent, &distinct, &r->dup, &r->ooo, &r->lost);
    r->received = r->msgs = distinct;
    int64_t end = f->t_last_recv > f->t_start ? f->t_last_recv : f->now;
    r->secs = f->t_start ? (double)(end - f->t_start) / 1e9 : 0;
    r->p50_us = track_percentile(&f->track, 0.50);
    r->p99_us = track_percentile(&f->track, 0.99);
    r->p999_us = track_percentile(&f->track, 0.999);
    uint64_t lost_acked = o->qos > 0 ? acked_lost(f) : 0;
    if (lost_acked)
        result_fail(r, "%llu acknowledged QoS %d messages never delivered",
                    (unsigned long long)lost_acked, o->qos);
    if (o->qos == 2 && r->dup)
        result_fail(r, "%llu duplicates at QoS 2", (unsigned long long)r->dup);
    if (f->bad_payload)
        result_fail(r, "%llu deliveries with a foreign payload",
                    (unsigned long long)f->bad_payload);
    if (f->bad_ack)
        result_fail(r, "%llu acknowledgements for unknown packet ids",
                    (unsigned long long)f->bad_ack);
    if (o->pid > 0 && !proc_alive(o->pid)) result_fail(r, "broker process %d is gone", (int)o->pid);
}

static void flow_free(struct flow *f)
{
    for (int i = 0; f->pubs && i < f->o->pubs; i++) {
        bconn_close(&f->pubs[i].c, f->epfd);
        pubwin_free(&f->pubs[i].win);
        free(f->pubs[i].acked_bits);
    }
    for (int i = 0; f->subs && i < f->o->subs; i++) {
        bconn_close(&f->subs[i].c, f->epfd);
        free(f->subs[i].rel);
    }
    free(f->pubs);
    free(f->subs);
    free(f->payload);
    track_free(&f->track);
    if (f->epfd >= 0) close(f->epfd);
}

int scenario_flow(const struct bench_opts *o, struct bench_result *r)
{
    struct flow f = {.o = o, .r = r, .epfd = epoll_create1(EPOLL_CLOEXEC)};
    struct sockaddr_in dst;
    int rc = -1;
    f.per_pub = (uint64_t)o->count / (uint64_t)o->pubs;
    f.pubs = calloc((size_t)o->pubs, sizeof *f.pubs);
    f.subs = calloc((size_t)o->subs, sizeof *f.subs);
    f.payload = calloc(1, (size_t)o->payload);
    for (int i = 0; f.pubs && i < o->pubs; i++)
        f.pubs[i].c.fd = -1;
    for (int i = 0; f.subs && i < o->subs; i++)
        f.subs[i].c.fd = -1;
    if (o->tls_ca && !(f.tls = bench_tls_new(o, r))) goto out;
    if (f.epfd < 0 || !f.pubs || !f.subs || !f.payload || !bench_addr(&dst, o->host, o->port) ||
        !track_init(&f.track, o->subs, o->pubs, f.per_pub))
        goto out;
    int64_t deadline = now_ns() + (int64_t)(o->timeout * 1e9);
    if (open_all(&f, &dst) < 0) goto out;
    run_loop(&f, deadline);
    if (f.t_start) meter_stop(&f.meter, r);
    verdict(&f);
    if (f.end[0]) result_fail(r, "%s", f.end);
    rc = 0;
out:
    flow_free(&f);
    bench_tls_end(f.tls, r);
    return rc;
}
