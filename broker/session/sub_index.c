#include "broker/session/sub_index.h"

#include <stdlib.h>
#include <string.h>

#define MIN_CAP 4u

void sub_index_free(struct sub_index *x)
{
    for (uint32_t i = 0; i < x->cap; i++)
        free(x->slots[i]);
    free(x->slots);
    x->slots = NULL;
    x->cap = x->count = 0;
}

static uint32_t filter_hash(const struct hash_key *k, const uint8_t *filter, size_t len)
{
    return (uint32_t)hash_bytes(k, filter, len);
}

/* The slot holding the filter, or the empty slot where it would go. */
static uint32_t probe(const struct sub_index *x, uint32_t h, const uint8_t *filter, size_t len)
{
    uint32_t mask = x->cap - 1, i = h & mask;
    for (const struct sub_filter *e; (e = x->slots[i]); i = (i + 1) & mask)
        if (e->hash == h && e->len == len && memcmp(e->bytes, filter, len) == 0) break;
    return i;
}

struct sub_filter *sub_index_find(const struct sub_index *x, const struct hash_key *k,
                                  const uint8_t *filter, size_t len)
{
    if (x->count == 0) return NULL;
    return x->slots[probe(x, filter_hash(k, filter, len), filter, len)];
}

/* Move every entry into a table of ncap slots (stored hashes: no rehash).
 * -1 (index unchanged) on out of memory. */
static int resize(struct sub_index *x, uint32_t ncap)
{
    struct sub_filter **n = calloc(ncap, sizeof(*n));
    if (!n) return -1;
    for (uint32_t i = 0; i < x->cap; i++) {
        struct sub_filter *e = x->slots[i];
        if (!e) continue;
        uint32_t j = e->hash & (ncap - 1);
        while (n[j])
            j = (j + 1) & (ncap - 1);
        n[j] = e;
    }
    free(x->slots);
    x->slots = n;
    x->cap = ncap;
    return 0;
}

int sub_index_set(struct sub_index *x, const struct hash_key *k, const uint8_t *filter, size_t len,
                  uint8_t qos)
{
    uint32_t h = filter_hash(k, filter, len);
    if (x->count) {
        struct sub_filter *e = x->slots[probe(x, h, filter, len)];
        if (e) {
            e->qos = qos;
            return 0;
        }
    }
    if ((x->count + 1) * 4 > x->cap * 3 && resize(x, x->cap ? x->cap * 2 : MIN_CAP) < 0) return -1;
    struct sub_filter *e = malloc(sizeof(*e) + len);
    if (!e) return -1; /* a grown table is still a valid one */
    e->hash = h;
    e->len = (uint16_t)len;
    e->qos = qos;
    memcpy(e->bytes, filter, len);
    x->slots[probe(x, h, filter, len)] = e;
    x->count++;
    return 1;
}

/* Backward-shift deletion: later entries of the probe run move up into the
 * hole unless that would put them before their home slot. */
static void remove_at(struct sub_index *x, uint32_t hole)
{
    uint32_t mask = x->cap - 1;
    for (uint32_t j = (hole + 1) & mask; x->slots[j]; j = (j + 1) & mask) {
        uint32_t home = x->slots[j]->hash & mask;
        bool home_between = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
        if (!home_between) {
            x->slots[hole] = x->slots[j];
            hole = j;
        }
    }
    x->slots[hole] = NULL;
}

bool sub_index_remove(struct sub_index *x, const struct hash_key *k, const uint8_t *filter,
                      size_t len)
{
    if (x->count == 0) return false;
    uint32_t i = probe(x, filter_hash(k, filter, len), filter, len);
    if (!x->slots[i]) return false;
    free(x->slots[i]);
    remove_at(x, i);
    if (--x->count == 0)
        sub_index_free(x); /* an idle session keeps no table */
    else if (x->cap > MIN_CAP && x->count * 8 < x->cap)
        resize(x, x->cap / 2); /* if this fails the larger table stays valid */
    return true;
}

struct sub_filter *sub_index_next(const struct sub_index *x, uint32_t *pos)
{
    while (*pos < x->cap) {
        struct sub_filter *e = x->slots[(*pos)++];
        if (e) return e;
    }
    return NULL;
}
