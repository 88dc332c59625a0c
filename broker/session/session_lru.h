/* Offline persistent sessions in the order their clients disconnected: an
 * intrusive doubly-linked list, O(1) append, unlink and oldest. Every
 * session shares one expiry, so the oldest is always the next to expire and
 * the first to evict when limits.max_sessions is reached. No I/O. */
#ifndef STARLING_BROKER_SESSION_LRU_H
#define STARLING_BROKER_SESSION_LRU_H

#include <stddef.h>
#include <stdint.h>

#include "broker/session/session.h"

struct session_lru {
    struct session *head, *tail; /* oldest disconnect first */
    size_t count;
};

/* s went offline at now_ms; s must not be in the list. */
void session_lru_append(struct session_lru *l, struct session *s, uint64_t now_ms);
/* Take s out of the list; no effect if it is not in it. */
void session_lru_unlink(struct session_lru *l, struct session *s);
/* When s expires under expiry_ms (UINT64_MAX when expiry_ms is 0: never). */
uint64_t session_lru_deadline(const struct session *s, uint64_t expiry_ms);
/* The oldest session if its deadline is at or before now_ms, else NULL. */
struct session *session_lru_expired(const struct session_lru *l, uint64_t now_ms,
                                    uint64_t expiry_ms);

#endif
