#include "broker/session/session_mgr.h"

#include "broker/broker.h"
#include "broker/session/session.h"
#include "broker/route/trie.h"
#include "broker/store/persist.h"

/* Sessions destroyed per expiry timer run: a mass expiry is spread over
 * loop turns instead of stalling one. */
#define EXPIRE_BATCH 1024

static uint64_t expiry_ms(const struct broker *b)
{
    return (uint64_t)b->cfg.limits.session_expiry * 1000;
}

static uint64_t offline_s(const struct broker *b, const struct session *s)
{
    return (b->now_ms - s->offline_since_ms) / 1000;
}

void session_destroy(struct broker *b, struct session *s)
{
    uint32_t pos = 0;
    for (struct sub_filter *f; (f = sub_index_next(&s->subs, &pos));)
        trie_unsubscribe(b->subs, f->bytes, f->len, s);
    persist_session_gone(b, s);
    session_lru_unlink(&b->offline, s);
    session_table_remove(&b->sessions, s);
    /* Freed at the end of the loop turn: a routing loop may still hold it. */
    s->conn = NULL;
    s->hnext = b->dead_sessions;
    b->dead_sessions = s;
}

void session_expiry_arm(struct broker *b)
{
    struct session *s = b->offline.head;
    uint64_t d = s ? session_lru_deadline(s, expiry_ms(b)) : UINT64_MAX;
    if (d == UINT64_MAX)
        timer_cancel(&b->timers, &b->expiry_timer);
    else
        timer_schedule(&b->timers, &b->expiry_timer, d);
}

void session_offline(struct broker *b, struct session *s)
{
    s->conn = NULL;
    if (s->clean) {
        session_destroy(b, s);
        return;
    }
    bool was_empty = !b->offline.head;
    session_lru_append(&b->offline, s, b->now_ms);
    persist_session_offline(b, s);
    if (was_empty) session_expiry_arm(b);
    /* else the timer stands at an older session's deadline */
}

static void expire(struct broker *b, struct session *s)
{
    b->stats.sessions_expired++;
    log_info(&b->log, "session expired: client=%s offline for %llu s", s->client_id,
             (unsigned long long)offline_s(b, s));
    session_destroy(b, s);
}

void session_expiry_on_timer(struct broker *b)
{
    struct session *s;
    for (int n = 0; n < EXPIRE_BATCH; n++) {
        if (!(s = session_lru_expired(&b->offline, b->now_ms, expiry_ms(b)))) {
            session_expiry_arm(b);
            return;
        }
        expire(b, s);
    }
    /* More are due: the next tick, so this turn's other work goes first. */
    timer_schedule(&b->timers, &b->expiry_timer, b->now_ms + 1);
}

/* A new session is about to be created: past the limit the oldest offline
 * session makes room; with every session online there is none to take. */
static bool make_room(struct broker *b)
{
    if (b->sessions.count < b->cfg.limits.max_sessions) return true;
    struct session *old = b->offline.head;
    if (!old) {
        b->stats.refused_max_sessions++;
        return false;
    }
    b->stats.sessions_evicted++;
    log_warning(&b->log, "session evicted: client=%s offline for %llu s (limits.max_sessions %u)",
                old->client_id, (unsigned long long)offline_s(b, old), b->cfg.limits.max_sessions);
    session_destroy(b, old);
    return true;
}

/* An existing session for this CONNECT, or NULL once it has been discarded
 * (MQTT-3.1.2-6: the state of a clean session is never reused). */
static struct session *resume(struct broker *b, struct session *s, bool clean)
{
    if (s->in_lru && session_lru_deadline(s, expiry_ms(b)) <= b->now_ms) {
        expire(b, s); /* due, but the timer has not run yet this turn */
        return NULL;
    }
    if (clean) {
        session_destroy(b, s);
        return NULL;
    }
    session_lru_unlink(&b->offline, s); /* online again: no expiry */
    s->clean = false;
    return s;
}

struct session *session_open(struct broker *b, const uint8_t *id, size_t len, bool clean,
                             bool *present, const char **why)
{
    uint32_t hash = session_id_hash(&b->sessions, id, len);
    struct session *s = session_table_find(&b->sessions, id, len, hash);
    *present = false;
    if (s && (s = resume(b, s, clean))) {
        *present = true;
        return s;
    }
    if (!make_room(b)) {
        *why = "limits.max_sessions reached and every session is online";
        return NULL;
    }
    *why = "out of memory";
    s = session_new(id, len, hash);
    if (!s) return NULL;
    s->q_total = &b->queued_bytes_total;
    if (session_table_insert(&b->sessions, s) < 0) {
        session_free(s);
        return NULL;
    }
    s->clean = clean;
    return s;
}
