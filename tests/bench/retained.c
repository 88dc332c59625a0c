/* The `retained` scenario: one publisher stores N retained messages on
 * distinct topics r/<i/1000>/<i> at QoS 1 (every PUBACK awaited, so the
 * broker holds them all); then a new subscriber to r/# is timed from its
 * SUBSCRIBE to the last retained message received. */
#include "tests/bench/bench.h"
#include "tests/bench/client.h"
#include "tests/bench/meter.h"
#include "tests/bench/net.h"
#include "tests/bench/track.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define STALL_NS 2000000000LL

struct ret {
    const struct bench_opts *o;
    struct bench_result *r;
    int epfd;
    struct bconn pub, sub;
    struct pubwin win;
    struct track track;
    bool pub_ready, sub_ready;
    uint64_t sent, acked, got, not_retained, bad;
    int64_t now, t_sub, t_last;
    uint8_t *payload;
};

static int ret_packet(struct bconn *c, const struct mqtt_packet *p)
{
    struct ret *s = c->owner;
    uint64_t seq;
    if (p->type == MQTT_CONNACK) {
        if (p->u.connack.return_code != 0) return -1;
        if (c == &s->pub)
            s->pub_ready = true;
        else
            s->sub_ready = true;
    } else if (p->type == MQTT_PUBACK && c == &s->pub) {
        if (pubwin_ack(&s->win, MQTT_PUBACK, p->u.packet_id, &seq) == 1)
            s->acked++;
        else
            s->bad++;
    } else if (p->type == MQTT_PUBLISH && c == &s->sub) {
        const struct mqtt_publish *pb = &p->u.publish;
        int rc = track_record(&s->track, 0, pb->payload.data, pb->payload.len, s->now);
        s->got += rc == 1;
        s->bad += rc < 0;
        s->not_retained += !pb->retain;
        s->t_last = s->now;
    }
    return 0;
}

static int poll_once(struct ret *s, int timeout_ms)
{
    struct epoll_event ev[16];
    int n = epoll_wait(s->epfd, ev, 16, timeout_ms);
    s->now = now_ns();
    for (int k = 0; k < n; k++) {
        struct bconn *c = ev[k].data.ptr;
        if (bconn_event(c, s->epfd, ev[k].events, ret_packet) < 0) {
            result_fail(s->r, "%s connection failed or was closed by the broker",
                        c == &s->pub ? "publisher" : "subscriber");
            return -1;
        }
    }
    return 0;
}

static void publish_some(struct ret *s)
{
    char topic[48];
    size_t need = (size_t)s->o->payload + sizeof topic + 8;
    while (s->sent < (uint64_t)s->o->count && !pubwin_full(&s->win) &&
           bconn_room(&s->pub) >= need) {
        snprintf(topic, sizeof topic, "r/%llu/%llu", (unsigned long long)(s->sent / 1000),
                 (unsigned long long)s->sent);
        stamp_write(s->payload, 0, s->sent, s->now);
        uint16_t id = pubwin_take(&s->win, s->sent);
        put_publish(&s->pub, topic, 1, true, id, s->payload, (size_t)s->o->payload);
        s->sent++;
    }
    bconn_flush(&s->pub, s->epfd);
}

/* Phase 1: every retained message stored and acknowledged. */
static int store_all(struct ret *s, int64_t deadline)
{
    while (s->acked < (uint64_t)s->o->count) {
        if (s->pub_ready) publish_some(s);
        if (poll_once(s, 10) < 0) return -1;
        if (s->now > deadline) {
            result_fail(s->r, "timeout storing: %llu of %ld acknowledged",
                        (unsigned long long)s->acked, s->o->count);
            return -1;
        }
    }
    return 0;
}

/* Phase 2: a new subscriber receives them all. */
static void fetch_all(struct ret *s, int64_t deadline)
{
    while (!s->sub_ready)
        if (poll_once(s, 10) < 0 || s->now > deadline) return;
    s->t_sub = s->t_last = now_ns();
    put_subscribe(&s->sub, 1, "r/#", 0);
    bconn_flush(&s->sub, s->epfd);
    while (s->got < (uint64_t)s->o->count) {
        if (poll_once(s, 10) < 0) return;
        if (s->now > deadline || s->now - s->t_last > STALL_NS) {
            result_fail(s->r, "%s: %llu of %ld retained messages received",
                        s->now > deadline ? "timeout" : "stalled", (unsigned long long)s->got,
                        s->o->count);
            return;
        }
    }
}

static void ret_judge(struct ret *s)
{
    struct bench_result *r = s->r;
    uint64_t sent[1] = {s->sent}, distinct;
    track_totals(&s->track, sent, &distinct, &r->dup, &r->ooo, &r->lost);
    r->sent = s->sent;
    r->acked = s->acked;
    r->received = r->msgs = distinct;
    r->secs = s->t_sub ? (double)(s->t_last - s->t_sub) / 1e9 : 0;
    if (r->lost)
        result_fail(r, "%llu retained messages not delivered", (unsigned long long)r->lost);
    if (r->dup)
        result_fail(r, "%llu retained messages delivered twice", (unsigned long long)r->dup);
    if (s->not_retained)
        result_fail(r, "%llu deliveries without RETAIN=1", (unsigned long long)s->not_retained);
    if (s->bad)
        result_fail(r, "%llu foreign payloads or unknown PUBACKs", (unsigned long long)s->bad);
    if (s->o->pid > 0 && !proc_alive(s->o->pid))
        result_fail(r, "broker process %d is gone", (int)s->o->pid);
}

int scenario_retained(const struct bench_opts *o, struct bench_result *r)
{
    struct ret s = {.o = o, .r = r, .epfd = epoll_create1(EPOLL_CLOEXEC)};
    struct sockaddr_in dst;
    s.pub.fd = s.sub.fd = -1;
    s.payload = calloc(1, (size_t)o->payload);
    int64_t deadline = now_ns() + (int64_t)(o->timeout * 1e9);
    int rc = -1;
    if (s.epfd < 0 || !s.payload || !bench_addr(&dst, o->host, o->port) ||
        !pubwin_init(&s.win, (uint32_t)o->inflight) ||
        !track_init(&s.track, 1, 1, (uint64_t)o->count) ||
        bconn_open(&s.pub, s.epfd, &dst, NULL, 256 * 1024, 256 * 1024) < 0)
        goto out;
    s.pub.owner = &s;
    char id[48];
    snprintf(id, sizeof id, "bench-%d-rp", (int)getpid());
    put_connect(&s.pub, id, true);
    rc = 0;
    if (store_all(&s, deadline) < 0) goto judge;
    if (bconn_open(&s.sub, s.epfd, &dst, NULL, 256 * 1024, 64 * 1024) < 0) {
        result_fail(r, "subscriber could not connect");
        goto judge;
    }
    s.sub.owner = &s;
    snprintf(id, sizeof id, "bench-%d-rs", (int)getpid());
    put_connect(&s.sub, id, true);
    struct meter m;
    meter_start(&m, o->pid);
    fetch_all(&s, deadline);
    meter_stop(&m, r);
judge:
    ret_judge(&s);
    r->p50_us = r->p99_us = r->p999_us = 0; /* stamps are from the store phase */
out:
    bconn_close(&s.pub, s.epfd);
    bconn_close(&s.sub, s.epfd);
    pubwin_free(&s.win);
    track_free(&s.track);
    free(s.payload);
    if (s.epfd >= 0) close(s.epfd);
    return rc;
}
