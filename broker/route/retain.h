/* Retained-message store, indexed by topic level in the same trie shape as
 * the router so that a new wildcard subscription visits only the retained
 * messages it matches instead of scanning them all. Holds one reference to
 * each stored msg. */
#ifndef STARLING_BROKER_RETAIN_H
#define STARLING_BROKER_RETAIN_H

#include <stddef.h>
#include <stdint.h>

#include "broker/route/msg.h"

struct retain_store;

struct hash_key;

/* Levels are hashed under key (copied), which should be random per process. */
struct retain_store *retain_new(const struct hash_key *key);
void retain_free(struct retain_store *rs);

/* Make m the retained message of its topic (taking a reference), replacing
 * any previous one. A zero-length payload deletes the topic's retained
 * message instead and stores nothing (MQTT-3.3.1-10/11).
 * Returns 0, -1 on out of memory, or RETAIN_FULL when storing m would take
 * the store past its byte bound (store unchanged in both cases). */
#define RETAIN_FULL (-2)
int retain_set(struct retain_store *rs, struct msg *m);

/* The retained message of exactly this topic (the store's reference), or NULL. */
struct msg *retain_find(const struct retain_store *rs, const uint8_t *topic, size_t len);

/* The store's memory as it counts it: every node (one per topic level) and
 * every stored message, headers included. A bound of 0 means none. */
uint64_t retain_bytes(const struct retain_store *rs);
void retain_set_max_bytes(struct retain_store *rs, uint64_t max_bytes);

/* A resumable walk of the retained messages matching a (valid) filter,
 * honouring the '$' rule (MQTT-4.7.2-1), in steps of bounded work. The store
 * may change between steps: the cursor keeps the node it stands on (and so
 * its ancestors) alive; every message stored for the whole walk is reported
 * exactly once, one stored or erased meanwhile may or may not be. Cursors
 * must be freed before their store. */
struct retain_cursor;

/* Copies the filter. NULL on out of memory. */
struct retain_cursor *retain_cursor_new(struct retain_store *rs, const uint8_t *filter, size_t len);
void retain_cursor_free(struct retain_cursor *c);
/* Back to the beginning, as if new. */
void retain_cursor_restart(struct retain_cursor *c);
const uint8_t *retain_cursor_filter(const struct retain_cursor *c, size_t *len);

enum retain_step {
    RETAIN_MSG,  /* *out is the next match (the store's reference, valid until it changes) */
    RETAIN_MORE, /* *budget node visits used up: call again */
    RETAIN_DONE, /* no more matches; further calls return RETAIN_DONE */
};
/* Walk on, spending one unit of *budget per node visited. */
enum retain_step retain_cursor_next(struct retain_cursor *c, uint32_t *budget, struct msg **out);

/* Call fn for each retained message whose topic matches the (valid) filter:
 * the cursor's walk in one go. fn must not modify the store. */
typedef void (*retain_fn)(void *ctx, struct msg *m);
void retain_match(const struct retain_store *rs, const uint8_t *filter, size_t len, retain_fn fn,
                  void *ctx);

size_t retain_count(const struct retain_store *rs);

#endif
