/* All sessions, online and offline, by client id (MQTT-3.1.3-2): a chained
 * hash table that grows with the number of sessions. It does not own them. */
#ifndef STARLING_BROKER_SESSION_TABLE_H
#define STARLING_BROKER_SESSION_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "broker/hash.h"
#include "broker/session/session.h"

struct session_table {
    struct session **buckets;
    size_t n_buckets; /* power of two */
    size_t count;
    struct hash_key key; /* set before first use; random per process */
};

uint32_t session_id_hash(const struct session_table *t, const uint8_t *id, size_t len);

struct session *session_table_find(const struct session_table *t, const uint8_t *id, size_t len,
                                   uint32_t hash);
/* Returns 0, or -1 on out of memory (table unchanged). */
int session_table_insert(struct session_table *t, struct session *s);
void session_table_remove(struct session_table *t, struct session *s);
void session_table_free(struct session_table *t);

#endif
