/* Keyed hashing for every table whose keys a client chooses (topic levels,
 * client ids, subscription filters): SipHash-1-3 under a 128-bit key drawn
 * at random when the broker starts, as Redis and CPython do. Without the key
 * an attacker cannot compute which strings collide, so a table of n
 * client-chosen keys costs O(n), not O(n^2) (hash flooding). */
#ifndef STARLING_BROKER_HASH_H
#define STARLING_BROKER_HASH_H

#include <stddef.h>
#include <stdint.h>

struct hash_key {
    uint64_t k0, k1;
};

/* A fresh random key (getrandom; falls back to time and pid if that fails). */
void hash_key_random(struct hash_key *k);

/* SipHash-1-3: what the tables use. */
uint64_t hash_bytes(const struct hash_key *k, const void *data, size_t len);

/* SipHash with c compression and d finalization rounds, for tests against
 * the published SipHash-2-4 vectors (hash_bytes is sip_hash(k, 1, 3, ...)). */
uint64_t sip_hash(const struct hash_key *k, int c, int d, const void *data, size_t len);

#endif
