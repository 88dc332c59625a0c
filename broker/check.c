/* Consistency checks over the broker state, for tests (see check.h). */
#include "broker/check.h"

#include "broker/broker.h"
#include "broker/session/session.h"
#include "broker/route/trie.h"

static const char *check_conns(const struct broker *b)
{
    size_t n = 0;
    for (const struct conn *c = b->conns; c; c = c->next, n++) {
        if (n > b->n_conns) return "connection list longer than n_conns";
        if (c->next && c->next->prev != c) return "connection list links broken";
        if (c->state == CONN_CLOSED) return "closed connection still listed after the turn";
        if (c->state == CONN_ACTIVE && c->session == NULL)
            return "active connection without session";
        if (c->session && c->session->conn != c) return "connection's session points elsewhere";
    }
    return n == b->n_conns ? NULL : "n_conns differs from the connection list";
}

static const char *check_sessions(const struct broker *b)
{
    const struct session_table *t = &b->sessions;
    size_t n = 0, subs = 0;
    for (size_t i = 0; i < t->n_buckets; i++) {
        for (const struct session *s = t->buckets[i]; s; s = s->hnext, n++) {
            if (n > t->count) return "session table holds more than its count";
            if ((s->hash & (t->n_buckets - 1)) != i) return "session in the wrong bucket";
            if (s->conn && s->conn->session != s) return "session's connection points elsewhere";
            if (s->conn && s->conn->state != CONN_ACTIVE)
                return "session attached to a dead connection";
            if (!s->conn && s->clean) return "offline clean session kept";
            if (!s->conn != s->in_lru) return "offline list and connection state disagree";
            subs += session_sub_count(s);
        }
    }
    if (n != t->count) return "session table count differs from the sessions in it";
    if (subs != trie_count(b->subs)) return "trie holds a different number of subscriptions";
    return b->dead_sessions ? "dead sessions not freed at the end of the turn" : NULL;
}

const char *broker_check(const struct broker *b)
{
    const char *e = check_conns(b);
    return e ? e : check_sessions(b);
}
