/* Attacks 1 and 9: one client pipelining SUBSCRIBEs of many distinct
 * filters, then waiting for every SUBACK. */
#include <stdio.h>

#include "protocol/mqtt.h"
#include "tests/stress/attack_impl.h"

struct filter_gen {
    const char *prefix;
    size_t base;
    char buf[32];
};

static const char *gen_filter(size_t i, void *ctx)
{
    struct filter_gen *g = ctx;
    snprintf(g->buf, sizeof g->buf, "%s/%07zu", g->prefix, g->base + i + 1);
    return g->buf;
}

static bool pipeline(const char *prefix, int packets, int per, int port,
                     const struct attack_size *sz, struct attack_result *r)
{
    long dl = atk_deadline(sz);
    struct st_peer p = {.fd = -1};
    struct st_buf b = {0};
    bool ok = atk_client(&p, port, prefix, true, 0, dl);
    for (int i = 0; ok && i < packets; i++) {
        struct filter_gen g = {.prefix = prefix, .base = (size_t)i * (size_t)per};
        sb_subscribe(&b, (uint16_t)(i + 1), (size_t)per, gen_filter, &g, 0);
    }
    ok = ok && st_peer_send(&p, b.d, b.n, dl) == 0 &&
         st_peer_wait(&p, MQTT_SUBACK, (uint64_t)packets, dl) == 0;
    r->granted = p.granted;
    r->refused = p.refused;
    snprintf(r->note, sizeof r->note, "%llu SUBACKs of %d, %llu granted, %llu refused",
             (unsigned long long)p.count[MQTT_SUBACK], packets, (unsigned long long)p.granted,
             (unsigned long long)p.refused);
    atk_hold(sz);
    st_peer_close(&p);
    sb_free(&b);
    return ok;
}

bool atk_subscribe_pipeline(const struct attack_size *sz, int port, struct attack_result *r)
{
    return pipeline("ms", sz->sub_packets, sz->sub_filters, port, sz, r);
}

bool atk_many_filters(const struct attack_size *sz, int port, struct attack_result *r)
{
    int per = sz->many_filters < 1000 ? sz->many_filters : 1000;
    return pipeline("sf", (sz->many_filters + per - 1) / per, per, port, sz, r);
}
