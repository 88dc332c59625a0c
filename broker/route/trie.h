/* Subscription index: a trie keyed by topic level, with exact children in a
 * hash map per node plus one '+' and one '#' child. Subscribers are opaque
 * pointers (the broker's sessions). Subscribe/unsubscribe are O(levels);
 * matching walks the topic once and never copies it. Topics whose first
 * character is '$' are not matched by a leading '+' or '#' (MQTT-4.7.2-1).
 * Filters and topics must already be validated by protocol/. */
#ifndef STARLING_BROKER_TRIE_H
#define STARLING_BROKER_TRIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct trie;

struct hash_key;

/* Levels are hashed under key (copied), which should be random per process. */
struct trie *trie_new(const struct hash_key *key);
void trie_free(struct trie *t);

/* Add a subscription, or replace the QoS of the same (filter, sub) pair.
 * Returns 1 if added, 0 if replaced, -1 on out of memory (trie unchanged). */
int trie_subscribe(struct trie *t, const uint8_t *filter, size_t len, void *sub, uint8_t qos);

/* Remove the exact (filter, sub) pair; empty nodes are freed. True if found. */
bool trie_unsubscribe(struct trie *t, const uint8_t *filter, size_t len, void *sub);

/* Call fn once per matching (sub, qos) pair. A sub with several matching
 * filters is reported once per filter: de-duplication is the caller's job.
 * fn must not modify the trie. */
typedef void (*trie_match_fn)(void *ctx, void *sub, uint8_t qos);
void trie_match(const struct trie *t, const uint8_t *topic, size_t len, trie_match_fn fn,
                void *ctx);

/* Number of (filter, sub) pairs stored. */
size_t trie_count(const struct trie *t);

#endif
