#include "broker/route/topic_map.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MIN_TABLE 4u

void topic_map_init(struct topic_map *m)
{
    m->u.one = NULL;
    m->cap = 0;
    m->count = 0;
}

void topic_map_free(struct topic_map *m)
{
    if (m->cap) free(m->u.slots);
    topic_map_init(m);
}

static bool key_eq(const struct topic_key *k, const uint8_t *s, size_t len, uint32_t hash)
{
    return k->hash == hash && k->len == len && (len == 0 || memcmp(k->bytes, s, len) == 0);
}

struct topic_key *topic_map_get(const struct topic_map *m, const uint8_t *s, size_t len,
                                uint32_t hash)
{
    if (m->cap == 0) return m->u.one && key_eq(m->u.one, s, len, hash) ? m->u.one : NULL;
    uint32_t mask = m->cap - 1;
    for (uint32_t i = hash & mask;; i = (i + 1) & mask) {
        struct topic_key *k = m->u.slots[i];
        if (!k) return NULL;
        if (key_eq(k, s, len, hash)) return k;
    }
}

/* Caller guarantees a free slot. */
static void table_insert(struct topic_key **slots, uint32_t cap, struct topic_key *k)
{
    uint32_t i = k->hash & (cap - 1);
    while (slots[i])
        i = (i + 1) & (cap - 1);
    slots[i] = k;
}

/* Rebuild into a table of new_cap slots (0: back to the inline form, which
 * needs count <= 1). -1 if the new table cannot be allocated. */
static int resize(struct topic_map *m, uint32_t new_cap)
{
    struct topic_key **slots = NULL;
    if (new_cap && !(slots = calloc(new_cap, sizeof(*slots)))) return -1;
    struct topic_key *only = NULL;
    uint32_t pos = 0;
    for (struct topic_key *k; (k = topic_map_next(m, &pos));) {
        if (slots)
            table_insert(slots, new_cap, k);
        else
            only = k;
    }
    if (m->cap) free(m->u.slots);
    m->cap = new_cap;
    if (slots)
        m->u.slots = slots;
    else
        m->u.one = only;
    return 0;
}

int topic_map_put(struct topic_map *m, struct topic_key *k)
{
    if (m->cap == 0 && m->count == 0) {
        m->u.one = k;
        m->count = 1;
        return 0;
    }
    if ((m->count + 1) * 4 > m->cap * 3) {
        uint32_t new_cap = m->cap ? m->cap * 2 : MIN_TABLE;
        if (new_cap < m->cap || resize(m, new_cap) < 0) return -1;
    }
    table_insert(m->u.slots, m->cap, k);
    m->count++;
    return 0;
}

static uint32_t slot_of(const struct topic_map *m, const struct topic_key *k)
{
    uint32_t mask = m->cap - 1, i = k->hash & mask;
    while (m->u.slots[i] != k)
        i = (i + 1) & mask;
    return i;
}

/* Backward-shift deletion keeps probe chains unbroken without tombstones. */
static void table_remove(struct topic_key **slots, uint32_t cap, uint32_t hole)
{
    uint32_t mask = cap - 1;
    for (uint32_t j = (hole + 1) & mask; slots[j]; j = (j + 1) & mask) {
        uint32_t home = slots[j]->hash & mask;
        /* slots[j] may fill the hole unless its home lies in (hole, j]. */
        bool home_between = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
        if (!home_between) {
            slots[hole] = slots[j];
            hole = j;
        }
    }
    slots[hole] = NULL;
}

void topic_map_del(struct topic_map *m, const struct topic_key *k)
{
    if (m->cap == 0) {
        m->u.one = NULL;
        m->count = 0;
        return;
    }
    table_remove(m->u.slots, m->cap, slot_of(m, k));
    m->count--;
    /* Shrinking is best effort: on allocation failure the bigger table stays. */
    if (m->count <= 1)
        resize(m, 0);
    else if (m->cap > MIN_TABLE && m->count * 8 < m->cap)
        resize(m, m->cap / 2);
}

struct topic_key *topic_map_next(const struct topic_map *m, uint32_t *pos)
{
    if (m->cap == 0) {
        if (*pos > 0 || !m->u.one) return NULL;
        *pos = 1;
        return m->u.one;
    }
    for (uint32_t i = *pos; i < m->cap; i++) {
        if (m->u.slots[i]) {
            *pos = i + 1;
            return m->u.slots[i];
        }
    }
    *pos = m->cap;
    return NULL;
}

uint32_t topic_map_pos_after(const struct topic_map *m, const struct topic_key *k)
{
    return m->cap == 0 ? 1 : slot_of(m, k) + 1;
}

uint32_t topic_map_max_probe(const struct topic_map *m)
{
    if (m->cap == 0) return m->count;
    uint32_t mask = m->cap - 1, worst = 0;
    for (uint32_t i = 0; i < m->cap; i++) {
        if (!m->u.slots[i]) continue;
        uint32_t probe = ((i - (m->u.slots[i]->hash & mask)) & mask) + 1;
        if (probe > worst) worst = probe;
    }
    return worst;
}
