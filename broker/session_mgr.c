#include "broker/session_mgr.h"

#include "broker/broker.h"
#include "broker/session.h"
#include "broker/trie.h"

void session_destroy(struct broker *b, struct session *s)
{
    for (uint32_t i = 0; i < s->n_subs; i++)
        trie_unsubscribe(b->subs, s->subs[i].filter, s->subs[i].len, s);
    session_table_remove(&b->sessions, s);
    /* Freed at the end of the loop turn: a routing loop may still hold it. */
    s->conn = NULL;
    s->hnext = b->dead_sessions;
    b->dead_sessions = s;
}

struct session *session_open(struct broker *b, const uint8_t *id, size_t len, bool clean,
                             bool *present)
{
    uint32_t hash = session_id_hash(&b->sessions, id, len);
    struct session *s = session_table_find(&b->sessions, id, len, hash);
    *present = false;
    if (s && clean) { /* MQTT-3.1.2-6: state of a clean session is never reused */
        session_destroy(b, s);
        s = NULL;
    }
    if (s) {
        *present = true;
        s->clean = false;
        return s;
    }
    s = session_new(id, len, hash);
    if (!s) return NULL;
    if (session_table_insert(&b->sessions, s) < 0) {
        session_free(s);
        return NULL;
    }
    s->clean = clean;
    return s;
}
