/* The canary client (see canary.h). */
#include "tests/stress/canary.h"

#include <stdio.h>
#include <string.h>

#include "protocol/mqtt.h"
#include "tests/stress/net.h"

#define TOPIC "stress/canary"

struct round {
    unsigned seq;  /* payload of the message in flight */
    bool received; /* it came back */
    struct st_buf acks;
};

/* Acknowledge every QoS 1 PUBLISH and note whether ours came back. */
static void on_packet(struct st_peer *p, uint8_t first, const uint8_t *body, size_t len)
{
    struct round *r = p->ctx;
    if (first >> 4 != MQTT_PUBLISH || len < 2) return;
    size_t tlen = (size_t)body[0] << 8 | body[1];
    int qos = (first >> 1) & 3;
    size_t off = 2 + tlen + (qos ? 2 : 0);
    if (off > len) return;
    if (qos == 1) {
        uint8_t ack[4] = {0x40, 2, body[2 + tlen], body[3 + tlen]};
        sb_mem(&r->acks, ack, 4);
    }
    char want[16];
    int wn = snprintf(want, sizeof want, "%u", r->seq);
    if (len - off == (size_t)wn && memcmp(body + off, want, (size_t)wn) == 0) r->received = true;
}

static bool canary_connect(struct canary *c, struct st_peer *p, struct round *r)
{
    p->on_packet = on_packet;
    p->ctx = r;
    if (!st_peer_open(p, c->port, 0)) return false;
    struct st_buf b = {0}, s = {0};
    sb_connect(&b, "stress-canary", true, 60);
    sb_u16(&s, 1);
    sb_str(&s, TOPIC, strlen(TOPIC));
    sb_u8(&s, 1);
    sb_packet(&b, 0x82, &s);
    sb_free(&s);
    long dl = st_now_ms() + 5000;
    bool ok = st_peer_send(p, b.d, b.n, dl) == 0 && st_peer_wait(p, MQTT_SUBACK, 1, dl) == 0 &&
              p->connack_code == 0;
    sb_free(&b);
    if (!ok) st_peer_close(p);
    return ok;
}

/* The deadline of the round trip started at t0: CANARY_LOST_MS, cut short
 * to the grace period once the canary is asked to stop. */
static bool give_up(struct canary *c, long t0)
{
    long now = st_now_ms();
    if (now - t0 > CANARY_LOST_MS) return true;
    return atomic_load(&c->stop) && now - atomic_load(&c->stop_at_ms) > CANARY_GRACE_MS;
}

/* One round trip: 1 done, 0 lost. */
static int round_trip(struct canary *c, struct st_peer *p, struct round *r)
{
    r->seq++;
    r->received = false;
    char pl[16];
    int n = snprintf(pl, sizeof pl, "%u", r->seq);
    struct st_buf b = {0};
    sb_publish(&b, TOPIC, strlen(TOPIC), pl, (size_t)n, 1, false, (uint16_t)(r->seq % 65535 + 1));
    long t0 = st_now_ms(), t0_us = st_now_us();
    int rc = st_peer_send(p, b.d, b.n, t0 + CANARY_LOST_MS);
    sb_free(&b);
    while (rc == 0 && !r->received && !give_up(c, t0)) {
        uint64_t seen = p->count[MQTT_PUBLISH];
        rc = st_peer_wait(p, MQTT_PUBLISH, seen + 1, st_now_ms() + 100);
        if (rc == -2) rc = 0;
    }
    long rtt = st_now_us() - t0_us;
    if (r->acks.n && rc == 0) rc = st_peer_send(p, r->acks.d, r->acks.n, st_now_ms() + 1000);
    r->acks.n = 0;
    if (!r->received) return 0;
    if (rtt > atomic_load(&c->worst_us)) atomic_store(&c->worst_us, rtt);
    return rc == 0 ? 1 : 0;
}

static void *canary_main(void *arg)
{
    struct canary *c = arg;
    struct st_peer p = {.fd = -1};
    struct round r = {0};
    while (!atomic_load(&c->stop)) {
        long t0 = st_now_ms();
        if (p.fd < 0 && !canary_connect(c, &p, &r)) {
            atomic_fetch_add(&c->lost, 1);
        } else if (round_trip(c, &p, &r)) {
            atomic_fetch_add(&c->done, 1);
            atomic_store(&c->ready, true);
        } else {
            atomic_fetch_add(&c->lost, 1);
            st_peer_close(&p);
        }
        long left = CANARY_PERIOD_MS - (st_now_ms() - t0);
        if (left > 0 && !atomic_load(&c->stop)) st_sleep_ms(left);
    }
    st_peer_close(&p);
    sb_free(&r.acks);
    return NULL;
}

bool canary_start(struct canary *c, int port)
{
    memset(c, 0, sizeof *c);
    c->port = port;
    if (pthread_create(&c->thread, NULL, canary_main, c) != 0) return false;
    for (long dl = st_now_ms() + 5000; st_now_ms() < dl; st_sleep_ms(20))
        if (atomic_load(&c->ready)) return true;
    canary_stop(c);
    return false;
}

void canary_stop(struct canary *c)
{
    atomic_store(&c->stop_at_ms, st_now_ms());
    atomic_store(&c->stop, true);
    pthread_join(c->thread, NULL);
}
