/* Delivery verification and latency histogram (track.h). */
#include "tests/bench/track.h"

#include <stdlib.h>
#include <string.h>

bool track_init(struct track *t, int subs, int pubs, uint64_t per_pub)
{
    memset(t, 0, sizeof *t);
    t->subs = subs;
    t->pubs = pubs;
    t->per_pub = per_pub;
    t->s = calloc((size_t)subs * (size_t)pubs, sizeof *t->s);
    t->lat = calloc(LAT_MAX_US + 1, sizeof *t->lat);
    if (!t->s || !t->lat) return false;
    for (int i = 0; i < subs * pubs; i++) {
        t->s[i].max_seq = -1;
        t->s[i].seen = calloc(per_pub / 8 + 1, 1);
        if (!t->s[i].seen) return false;
    }
    return true;
}

void track_free(struct track *t)
{
    for (int i = 0; t->s && i < t->subs * t->pubs; i++)
        free(t->s[i].seen);
    free(t->s);
    free(t->lat);
    memset(t, 0, sizeof *t);
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

void stamp_write(uint8_t *payload, uint32_t pub, uint64_t seq, int64_t now_ns)
{
    put_le(payload, pub, 4);
    put_le(payload + 4, seq, 8);
    put_le(payload + 12, (uint64_t)now_ns, 8);
}

uint32_t stamp_pub(const uint8_t *payload)
{
    return (uint32_t)get_le(payload, 4);
}

static void record_latency(struct track *t, int64_t sent_ns, int64_t now_ns)
{
    int64_t us = (now_ns - sent_ns) / 1000;
    if (us < 0) us = 0;
    t->lat[us > LAT_MAX_US ? LAT_MAX_US : us]++;
    t->lat_n++;
}

int track_record(struct track *t, int sub, const uint8_t *payload, size_t len, int64_t now_ns)
{
    if (len < STAMP_BYTES) return -1;
    uint64_t pub = get_le(payload, 4), seq = get_le(payload + 4, 8);
    if (pub >= (uint64_t)t->pubs || seq >= t->per_pub) return -1;
    struct stream *s = &t->s[sub * t->pubs + (int)pub];
    uint8_t bit = (uint8_t)(1u << (seq & 7));
    if (s->seen[seq >> 3] & bit) {
        s->dup++;
        return 0;
    }
    s->seen[seq >> 3] |= bit;
    s->distinct++;
    if ((int64_t)seq < s->max_seq)
        s->ooo++;
    else
        s->max_seq = (int64_t)seq;
    record_latency(t, (int64_t)get_le(payload + 12, 8), now_ns);
    return 1;
}

bool track_seen(const struct track *t, int sub, int pub, uint64_t seq)
{
    const struct stream *s = &t->s[sub * t->pubs + pub];
    return seq < t->per_pub && (s->seen[seq >> 3] >> (seq & 7)) & 1;
}

void track_totals(const struct track *t, const uint64_t *sent, uint64_t *distinct, uint64_t *dup,
                  uint64_t *ooo, uint64_t *lost)
{
    *distinct = *dup = *ooo = *lost = 0;
    for (int sub = 0; sub < t->subs; sub++) {
        for (int pub = 0; pub < t->pubs; pub++) {
            const struct stream *s = &t->s[sub * t->pubs + pub];
            *distinct += s->distinct;
            *dup += s->dup;
            *ooo += s->ooo;
            if (sent[pub] > s->distinct) *lost += sent[pub] - s->distinct;
        }
    }
}

uint64_t track_percentile(const struct track *t, double p)
{
    if (t->lat_n == 0) return 0;
    uint64_t want = (uint64_t)(p * (double)t->lat_n + 0.999999), cum = 0;
    if (want == 0) want = 1;
    for (uint64_t us = 0; us <= LAT_MAX_US; us++) {
        cum += t->lat[us];
        if (cum >= want) return us;
    }
    return LAT_MAX_US;
}
