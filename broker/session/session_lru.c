#include "broker/session/session_lru.h"

void session_lru_append(struct session_lru *l, struct session *s, uint64_t now_ms)
{
    s->offline_since_ms = now_ms;
    s->lru_next = NULL;
    s->lru_prev = l->tail;
    if (l->tail)
        l->tail->lru_next = s;
    else
        l->head = s;
    l->tail = s;
    s->in_lru = true;
    l->count++;
}

void session_lru_unlink(struct session_lru *l, struct session *s)
{
    if (!s->in_lru) return;
    if (s->lru_prev)
        s->lru_prev->lru_next = s->lru_next;
    else
        l->head = s->lru_next;
    if (s->lru_next)
        s->lru_next->lru_prev = s->lru_prev;
    else
        l->tail = s->lru_prev;
    s->lru_prev = s->lru_next = NULL;
    s->in_lru = false;
    l->count--;
}

uint64_t session_lru_deadline(const struct session *s, uint64_t expiry_ms)
{
    if (expiry_ms == 0) return UINT64_MAX;
    return s->offline_since_ms + expiry_ms;
}

struct session *session_lru_expired(const struct session_lru *l, uint64_t now_ms,
                                    uint64_t expiry_ms)
{
    struct session *s = l->head;
    return s && session_lru_deadline(s, expiry_ms) <= now_ms ? s : NULL;
}
