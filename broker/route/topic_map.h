/* Per-node child map of the topic tries (router and retained store): a set of
 * keys embedded in the child nodes, looked up by one level's bytes without
 * copying or allocating. Zero or one child costs no allocation; more use an
 * open-addressing table that grows and shrinks. Internal to broker/. */
#ifndef STARLING_BROKER_TOPIC_MAP_H
#define STARLING_BROKER_TOPIC_MAP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "broker/hash.h"

/* Embedded in each child node; `bytes` points at the node's own copy of its
 * level (which may be empty). */
struct topic_key {
    const uint8_t *bytes;
    uint32_t hash;
    uint32_t len;
};

struct topic_map {
    union {
        struct topic_key *one;    /* cap == 0: the only key, or NULL */
        struct topic_key **slots; /* cap > 0: power-of-two table */
    } u;
    uint32_t cap;
    uint32_t count;
};

/* The hash of one level under the table owner's key (broker/hash.h). */
static inline uint32_t topic_hash(const struct hash_key *k, const uint8_t *s, size_t len)
{
    return (uint32_t)hash_bytes(k, s, len);
}

void topic_map_init(struct topic_map *m);
/* Frees the table only: the keys belong to the caller's nodes. */
void topic_map_free(struct topic_map *m);

struct topic_key *topic_map_get(const struct topic_map *m, const uint8_t *s, size_t len,
                                uint32_t hash);
/* topic_map_get, hashing s under key only if the map has a table: most
 * nodes of a topic tree have one child, and that one is compared directly. */
static inline struct topic_key *
topic_map_find(const struct topic_map *m, const struct hash_key *key, const uint8_t *s, size_t len)
{
    if (m->cap == 0) {
        struct topic_key *one = m->u.one;
        return one && one->len == len && (len == 0 || memcmp(one->bytes, s, len) == 0) ? one : NULL;
    }
    return topic_map_get(m, s, len, topic_hash(key, s, len));
}

/* k must not already be present. 0, or -1 on out of memory (map unchanged). */
int topic_map_put(struct topic_map *m, struct topic_key *k);
/* k must be present. Never fails. */
void topic_map_del(struct topic_map *m, const struct topic_key *k);

/* Iteration: start with *pos = 0; returns NULL at the end. The map must not
 * change during an iteration. topic_map_pos gives the position just after
 * a present key, to resume iterating from it. */
struct topic_key *topic_map_next(const struct topic_map *m, uint32_t *pos);
uint32_t topic_map_pos_after(const struct topic_map *m, const struct topic_key *k);

/* The longest probe sequence a lookup of a present key walks (1 = found at
 * its home slot): for tests that the keyed hash defeats flooding. */
uint32_t topic_map_max_probe(const struct topic_map *m);

/* Levels of a topic or filter str[0..len): [s, topic_level_end) is one level
 * (maybe empty); the level after it starts at topic_level_end + 1, and a
 * start of len + 1 means no level is left. */
static inline size_t topic_level_end(const uint8_t *str, size_t len, size_t s)
{
    const uint8_t *slash = memchr(str + s, '/', len - s);
    return slash ? (size_t)(slash - str) : len;
}

/* Start of the level before the one starting at s (s >= 1). */
static inline size_t topic_level_before(const uint8_t *str, size_t s)
{
    const uint8_t *slash = s > 1 ? memrchr(str, '/', s - 1) : NULL;
    return slash ? (size_t)(slash - str) + 1 : 0;
}

#endif
