/* Attacks 2 and 3: one connection flooding small packets as fast as it
 * can; one publisher flooding QoS 0 to many subscribers that never read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/mqtt.h"
#include "tests/stress/attack_impl.h"

#define CHUNK (1u << 20)
#define PING_EVERY 100

/* About 1 MiB of 8-byte QoS 0 PUBLISHes to a topic nobody reads, with a
 * PINGREQ after every PING_EVERY of them; *pings counts those. */
static void flood_chunk(struct st_buf *b, const char *topic, size_t plen, int ping_every,
                        int *pings)
{
    static const uint8_t ping[2] = {0xc0, 0};
    char payload[128];
    memset(payload, 'p', sizeof payload);
    *pings = 0;
    for (int i = 1; b->n < CHUNK; i++) {
        sb_publish(b, topic, strlen(topic), payload, plen, 0, false, 0);
        if (ping_every && i % ping_every == 0) sb_mem(b, ping, 2), (*pings)++;
    }
}

bool atk_flood(const struct attack_size *sz, int port, struct attack_result *r)
{
    long dl = atk_deadline(sz);
    struct st_peer p = {.fd = -1};
    struct st_buf b = {0};
    int pings = 0;
    flood_chunk(&b, "flood/nobody", 8, PING_EVERY, &pings);
    uint64_t sent = 0, want_pings = 0;
    bool ok = atk_client(&p, port, "flooder", true, 0, dl);
    for (long end = st_now_ms() + sz->flood_ms;
         ok && (sent < sz->flood_bytes || st_now_ms() < end);) {
        ok = st_peer_send(&p, b.d, b.n, dl) == 0;
        sent += ok ? b.n : 0;
        want_pings += ok ? (uint64_t)pings : 0;
    }
    ok = ok && st_peer_wait(&p, MQTT_PINGRESP, want_pings, dl) == 0;
    snprintf(r->note, sizeof r->note, "%llu MiB sent, %llu of %llu PINGRESPs",
             (unsigned long long)(sent >> 20), (unsigned long long)p.count[MQTT_PINGRESP],
             (unsigned long long)want_pings);
    st_peer_close(&p);
    sb_free(&b);
    return ok;
}

/* n subscribers of fan/t with 4 KB receive buffers, each past its SUBACK. */
static int fan_subscribers(struct st_peer *subs, int n, int port, long dl)
{
    struct st_buf b = {0}, s = {0};
    sb_u16(&s, 1);
    sb_str(&s, "fan/t", 5);
    sb_u8(&s, 0);
    int ok = 0;
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "fan-%d", i);
        b.n = 0;
        sb_connect(&b, id, true, 600);
        sb_packet(&b, 0x82, &s);
        subs[i].fd = -1;
        if (st_peer_open(&subs[i], port, 4096)) st_peer_send(&subs[i], b.d, b.n, dl);
    }
    for (int i = 0; i < n; i++)
        ok += subs[i].fd >= 0 && st_peer_wait(&subs[i], MQTT_SUBACK, 1, dl) == 0;
    sb_free(&b);
    sb_free(&s);
    return ok;
}

bool atk_fanout(const struct attack_size *sz, int port, struct attack_result *r)
{
    long dl = atk_deadline(sz);
    struct st_peer *subs = calloc((size_t)sz->fan_subscribers, sizeof *subs);
    struct st_peer pub = {.fd = -1};
    struct st_buf b = {0};
    int pings = 0;
    flood_chunk(&b, "fan/t", 100, 0, &pings);
    int n = fan_subscribers(subs, sz->fan_subscribers, port, dl);
    bool ok = n == sz->fan_subscribers && atk_client(&pub, port, "fan-pub", true, 0, dl);
    uint64_t sent = 0;
    for (long end = st_now_ms() + sz->fan_ms; ok && st_now_ms() < end;) {
        ok = st_peer_send(&pub, b.d, b.n, end + 5000) == 0;
        sent += ok ? b.n : 0;
    }
    snprintf(r->note, sizeof r->note, "%d of %d subscribed, %llu MiB published", n,
             sz->fan_subscribers, (unsigned long long)(sent >> 20));
    atk_hold(sz);
    st_peer_close(&pub);
    for (int i = 0; i < sz->fan_subscribers; i++)
        st_peer_close(&subs[i]);
    free(subs);
    sb_free(&b);
    return ok;
}
