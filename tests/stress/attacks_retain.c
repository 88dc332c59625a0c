/* Attacks 4, 5 and 6, on the retained store and the topic trie: replay
 * amplification, very deep topics, and topic levels colliding under the
 * old unkeyed hash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocol/mqtt.h"
#include "tests/stress/attack_impl.h"

/* n retained QoS 0 messages topic_of(i) on one connection, then a sync. */
static bool store_retained(int port, int n, const char *(*topic_of)(int, void *), void *ctx,
                           size_t plen, long dl, struct attack_result *r)
{
    struct st_peer p = {.fd = -1};
    struct st_buf b = {0};
    char payload[128];
    memset(payload, 'r', sizeof payload);
    int reconnects = 0, rc = 0;
    for (int i = 0; i < n && rc != -2; i++) {
        const char *t = topic_of(i, ctx);
        sb_publish(&b, t, strlen(t), payload, plen, 0, true, 0);
        if (b.n < (1u << 20) && i + 1 < n) continue;
        rc = atk_send_resilient(&p, port, "retainer", &b, dl, &reconnects);
        b.n = 0;
    }
    bool ok = rc == 0 && atk_sync(&p, dl);
    if (reconnects)
        snprintf(r->note, sizeof r->note, "publisher disconnected %d times; ", reconnects);
    st_peer_close(&p);
    sb_free(&b);
    return ok;
}

static const char *ra_topic(int i, void *ctx)
{
    snprintf(ctx, 32, "ra/%d", i);
    return ctx;
}

static const char *ra_all(size_t i, void *ctx)
{
    (void)i, (void)ctx;
    return "ra/#";
}

bool atk_replay(const struct attack_size *sz, int port, struct attack_result *r)
{
    long dl = atk_deadline(sz);
    char name[32];
    bool ok = store_retained(port, sz->retained, ra_topic, name, 100, dl, r);
    struct st_buf b = {0};
    sb_connect(&b, "", true, 600);
    sb_subscribe(&b, 1, (size_t)sz->replay_n, ra_all, NULL, 0);
    int *fds = malloc((size_t)sz->replay_clients * sizeof *fds), sent = 0;
    for (int i = 0; i < sz->replay_clients; i++) {
        fds[i] = ok ? st_tcp(port, 4096) : -1;
        sent += fds[i] >= 0 && st_send_noread(fds[i], b.d, b.n, dl) == 0;
    }
    ok = ok && sent == sz->replay_clients;
    snprintf(r->note + strlen(r->note), sizeof r->note - strlen(r->note),
             "%d retained; %d clients sent %d x ra/#", sz->retained, sent, sz->replay_n);
    atk_hold(sz);
    for (int i = 0; i < sz->replay_clients; i++)
        if (fds[i] >= 0) close(fds[i]);
    free(fds);
    sb_free(&b);
    return ok;
}

struct deep {
    char *topic; /* "XNNNN" then levels-1 times "/x" */
    char lead;
    int index; /* of the filter deep_filter makes */
};

static const char *deep_topic(int i, void *ctx)
{
    struct deep *d = ctx;
    char head[8];
    snprintf(head, sizeof head, "%c%04d", d->lead, i % 10000);
    memcpy(d->topic, head, 5);
    return d->topic;
}

static const char *deep_filter(size_t i, void *ctx)
{
    struct deep *d = ctx;
    return deep_topic(d->index + (int)i, ctx);
}

/* One SUBSCRIBE per deep filter, then a sync; SUBACK codes into r. */
static bool subscribe_deep(int port, int n, struct deep *d, long dl, struct attack_result *r)
{
    struct st_peer p = {.fd = -1};
    struct st_buf b = {0};
    int reconnects = 0, rc = 0;
    for (int i = 0; i < n && rc != -2; i++) {
        b.n = 0;
        d->lead = 's';
        d->index = i;
        sb_subscribe(&b, (uint16_t)(i + 1), 1, deep_filter, d, 0);
        rc = atk_send_resilient(&p, port, "deep-sub", &b, dl, &reconnects);
    }
    bool ok = rc == 0 && atk_sync(&p, dl);
    r->granted += p.granted;
    r->refused += p.refused;
    st_peer_close(&p);
    sb_free(&b);
    return ok;
}

bool atk_deep(const struct attack_size *sz, int port, struct attack_result *r)
{
    long dl = atk_deadline(sz);
    size_t len = 5 + 2 * (size_t)(sz->deep_levels - 1);
    struct deep d = {.topic = malloc(len + 1), .lead = 'd'};
    for (size_t i = 5; i < len; i += 2)
        memcpy(d.topic + i, "/x", 2);
    d.topic[len] = '\0';
    bool ok = store_retained(port, sz->deep_topics, deep_topic, &d, 1, dl, r);
    ok = subscribe_deep(port, sz->deep_topics, &d, dl, r) && ok;
    snprintf(r->note + strlen(r->note), sizeof r->note - strlen(r->note),
             "%d x %zu B topics; filters %llu granted, %llu refused", sz->deep_topics, len,
             (unsigned long long)r->granted, (unsigned long long)r->refused);
    atk_hold(sz);
    free(d.topic);
    return ok;
}

struct colliding {
    const char *set;
    size_t len;
    char buf[256];
};

static const char *collide_topic(int i, void *ctx)
{
    struct colliding *c = ctx;
    snprintf(c->buf, sizeof c->buf, "c/%s", c->set + (size_t)i * (c->len + 1));
    return c->buf;
}

bool atk_collide(const struct attack_size *sz, int port, struct attack_result *r)
{
    int n = 1 << sz->collide_pairs;
    char *set = malloc((size_t)n * ((size_t)sz->collide_pairs * 12 + 1));
    struct colliding c = {.set = set, .len = fnv_multicollision(sz->collide_pairs, set)};
    long dl = atk_deadline(sz);
    bool ok = c.len > 0 && store_retained(port, n, collide_topic, &c, 1, dl, r);
    struct st_peer p = {.fd = -1};
    struct st_buf b = {0};
    struct st_buf s = {0};
    sb_u16(&s, 1);
    sb_str(&s, "c/#", 3);
    sb_u8(&s, 0);
    sb_packet(&b, 0x82, &s);
    ok = ok && atk_client(&p, port, "collide-sub", true, 0, dl) &&
         st_peer_send(&p, b.d, b.n, dl) == 0 &&
         st_peer_wait(&p, MQTT_PUBLISH, (uint64_t)n, dl) == 0;
    r->received = p.count[MQTT_PUBLISH];
    snprintf(r->note, sizeof r->note, "%d levels of %zu B, one FNV-1a hash; %llu replayed", n,
             c.len, (unsigned long long)r->received);
    st_peer_close(&p);
    sb_free(&b);
    sb_free(&s);
    free(set);
    return ok;
}
