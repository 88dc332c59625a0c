/* One session's subscription filters (filter bytes -> granted QoS): an
 * open-addressing hash set under the broker's keyed hash, so set, find and
 * remove are O(filter length) expected however many filters a client holds.
 * Linear probing with backward-shift deletion (no tombstones); the table
 * grows at 3/4 full, shrinks below 1/8 and holds no memory when empty. */
#ifndef STARLING_BROKER_SUB_INDEX_H
#define STARLING_BROKER_SUB_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/hash.h"

struct sub_filter {
    uint32_t hash;
    uint16_t len;
    uint8_t qos;
    uint8_t bytes[]; /* the filter, not NUL-terminated */
};

struct sub_index {
    struct sub_filter **slots; /* NULL: empty slot */
    uint32_t cap;              /* 0 or a power of two */
    uint32_t count;
};

/* Frees every filter; the index is empty (and reusable) afterwards. */
void sub_index_free(struct sub_index *x);
struct sub_filter *sub_index_find(const struct sub_index *x, const struct hash_key *k,
                                  const uint8_t *filter, size_t len);
/* 1 if added, 0 if the QoS of an identical filter was replaced, -1 on out
 * of memory (index unchanged). len must fit 16 bits (MQTT strings do). */
int sub_index_set(struct sub_index *x, const struct hash_key *k, const uint8_t *filter, size_t len,
                  uint8_t qos);
/* false if the filter was not there. Never fails. */
bool sub_index_remove(struct sub_index *x, const struct hash_key *k, const uint8_t *filter,
                      size_t len);
/* Iteration: start with *pos = 0; NULL at the end. The index must not
 * change during the walk. */
struct sub_filter *sub_index_next(const struct sub_index *x, uint32_t *pos);

#endif
