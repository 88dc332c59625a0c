/* Loading the store into the broker at start: messages by id, then the
 * retained topics and sessions that reference them. The data is checked as
 * it comes (a damaged row is skipped and counted, never trusted): filters
 * and topics are validated, references must resolve. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/route/msg.h"
#include "broker/route/retain.h"
#include "broker/route/trie.h"
#include "broker/session/session.h"
#include "broker/session/session_mgr.h"
#include "broker/store/persist_internal.h"
#include "broker/store/store.h"
#include "protocol/mqtt.h"

/* Ids and keys are ours (sequential), not a client's: a plain
 * open-addressing table is enough. Key 0 marks a free slot. */
struct idmap {
    uint64_t *keys;
    void **vals;
    size_t cap, n;
};

static size_t slot(const struct idmap *m, uint64_t k)
{
    size_t i = (size_t)(k * 0x9E3779B97F4A7C15ull) & (m->cap - 1);
    while (m->keys[i] && m->keys[i] != k)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static int idmap_put(struct idmap *m, uint64_t k, void *v)
{
    if ((m->n + 1) * 2 > m->cap) {
        struct idmap g = {calloc(m->cap ? m->cap * 2 : 1024, sizeof(uint64_t)),
                          calloc(m->cap ? m->cap * 2 : 1024, sizeof(void *)),
                          m->cap ? m->cap * 2 : 1024, 0};
        if (!g.keys || !g.vals) {
            free(g.keys);
            free(g.vals);
            return -1;
        }
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i]) {
                size_t j = slot(&g, m->keys[i]);
                g.keys[j] = m->keys[i];
                g.vals[j] = m->vals[i];
                g.n++;
            }
        free(m->keys);
        free(m->vals);
        *m = g;
    }
    size_t i = slot(m, k);
    if (!m->keys[i]) m->n++;
    m->keys[i] = k;
    m->vals[i] = v;
    return 0;
}

static void *idmap_get(const struct idmap *m, uint64_t k)
{
    if (!m->cap || !k) return NULL;
    size_t i = slot(m, k);
    return m->keys[i] ? m->vals[i] : NULL;
}

struct restore {
    struct broker *b;
    struct idmap msgs;     /* id -> msg (one reference each) */
    struct idmap sessions; /* key -> session */
    struct persist_restored *got;
    int64_t now_wall;
    size_t skipped, refused_retained;
    char *err;
    size_t errlen;
};

static int oom(struct restore *r)
{
    snprintf(r->err, r->errlen, "out of memory");
    return -1;
}

static int on_msg(void *ctx, uint64_t id, const uint8_t *topic, size_t topic_len,
                  const uint8_t *payload, size_t payload_len, uint8_t qos, bool retain)
{
    struct restore *r = ctx;
    if (!id || qos > 2 || mqtt_topic_name_check(topic, topic_len) != MQTT_OK) {
        r->skipped++;
        return 0;
    }
    struct msg *m = msg_new(topic, topic_len, payload, payload_len, qos, retain);
    if (!m) return oom(r);
    m->store_id = id;
    if (idmap_put(&r->msgs, id, m) < 0) {
        msg_unref(m);
        return oom(r);
    }
    return 0;
}

static int on_retained(void *ctx, const uint8_t *topic, size_t topic_len, uint64_t msg_id)
{
    struct restore *r = ctx;
    struct msg *m = idmap_get(&r->msgs, msg_id);
    if (!m || m->topic_len != topic_len || memcmp(m->topic, topic, topic_len) != 0) {
        r->skipped++;
        return 0;
    }
    int rc = retain_set(r->b->retained, m);
    if (rc == RETAIN_FULL) { /* limits.max_retained_bytes shrank meanwhile */
        r->refused_retained++;
        persist_record(r->b,
                       &(struct store_op){.type = STORE_RETAIN_DEL, .a = topic, .a_len = topic_len},
                       true, false, NULL);
        return 0;
    }
    if (rc < 0) return oom(r);
    m->store_refs++;
    r->got->retained++;
    return 0;
}

/* Offline since a wall-clock time, on the monotonic clock of this run; one
 * online when the broker stopped went offline now. */
static uint64_t offline_mono(const struct restore *r, int64_t since)
{
    uint64_t now = r->b->now_ms;
    if (since <= 0 || since >= r->now_wall) return now;
    uint64_t ago = (uint64_t)(r->now_wall - since);
    return ago < now ? now - ago : 0;
}

static int on_session(void *ctx, uint64_t key, const uint8_t *id, size_t id_len, bool has_user,
                      const uint8_t *user, size_t user_len, int64_t offline_since)
{
    struct restore *r = ctx;
    struct broker *b = r->b;
    if (!key || id_len == 0 || id_len > UINT16_MAX || user_len > UINT16_MAX) {
        r->skipped++;
        return 0;
    }
    uint32_t hash = session_id_hash(&b->sessions, id, id_len);
    if (session_table_find(&b->sessions, id, id_len, hash)) {
        r->skipped++;
        return 0;
    }
    struct session *s = session_new(id, id_len, hash);
    if (!s) return oom(r);
    if (session_set_user(s, has_user, user, user_len) < 0 ||
        session_table_insert(&b->sessions, s) < 0) {
        session_free(s);
        return oom(r);
    }
    s->q_total = &b->queued_bytes_total;
    s->store_key = key;
    if (idmap_put(&r->sessions, key, s) < 0) return oom(r); /* in the table: freed with it */
    /* Sessions come oldest offline first, so the list stays in order. */
    session_lru_append(&b->offline, s, offline_mono(r, offline_since));
    r->got->sessions++;
    return 0;
}

static int on_sub(void *ctx, uint64_t key, const uint8_t *filter, size_t len, uint8_t qos)
{
    struct restore *r = ctx;
    struct broker *b = r->b;
    struct session *s = idmap_get(&r->sessions, key);
    if (!s || qos > 2 || mqtt_topic_filter_check(filter, len) != MQTT_OK) {
        r->skipped++;
        return 0;
    }
    if (trie_subscribe(b->subs, filter, len, s, qos) < 0) return oom(r);
    if (session_sub_set(s, &b->hash_key, filter, len, qos) < 0) {
        trie_unsubscribe(b->subs, filter, len, s);
        return oom(r);
    }
    return 0;
}

static int on_entry(void *ctx, uint64_t key, uint64_t seq, uint64_t msg_id, uint8_t qos,
                    bool retain, uint8_t state, uint16_t pid)
{
    struct restore *r = ctx;
    struct session *s = idmap_get(&r->sessions, key);
    struct msg *m = idmap_get(&r->msgs, msg_id);
    bool ok = s && (qos == 1 || qos == 2) && state <= WAIT_PUBCOMP &&
              (m || state == WAIT_PUBCOMP) && (state == INFLIGHT_FREE || pid != 0);
    if (!ok) {
        r->skipped++;
        return 0;
    }
    if (state == WAIT_PUBCOMP) m = NULL;
    if (session_restore_entry(s, m, qos, retain, state, pid, seq) < 0) return oom(r);
    if (m) m->store_refs++;
    r->got->entries++;
    return 0;
}

static int on_rx(void *ctx, uint64_t key, uint16_t pid)
{
    struct restore *r = ctx;
    struct session *s = idmap_get(&r->sessions, key);
    if (!s || pid == 0) {
        r->skipped++;
        return 0;
    }
    return session_rx_qos2_add(s, pid) < 0 ? oom(r) : 0;
}

/* Messages nothing references any more are deleted from the store; the
 * map's references go (what is retained or queued keeps its own). */
static void release_msgs(struct restore *r)
{
    for (size_t i = 0; i < r->msgs.cap; i++) {
        struct msg *m = r->msgs.keys[i] ? r->msgs.vals[i] : NULL;
        if (!m) continue;
        if (m->store_refs == 0)
            persist_record(r->b, &(struct store_op){.type = STORE_MSG_DEL, .id = m->store_id},
                           false, false, NULL);
        msg_unref(m);
    }
    free(r->msgs.keys);
    free(r->msgs.vals);
    free(r->sessions.keys);
    free(r->sessions.vals);
}

int persist_restore(struct broker *b, struct store *st, struct persist_restored *got, char *err,
                    size_t errlen)
{
    memset(got, 0, sizeof(*got));
    struct restore r = {
        .b = b, .got = got, .now_wall = persist_wall_ms(), .err = err, .errlen = errlen};
    struct store_loader l = {&r, on_msg, on_retained, on_session, on_sub, on_entry, on_rx};
    int rc = store_load(st, &l, err, errlen);
    release_msgs(&r);
    if (rc < 0) return -1;
    session_expiry_arm(b);
    if (r.skipped)
        log_warning(&b->log, "persistence: %zu damaged or dangling records in %s skipped",
                    r.skipped, b->cfg.persistence.path);
    if (r.refused_retained)
        log_warning(&b->log,
                    "persistence: %zu retained messages over limits.max_retained_bytes not "
                    "restored (deleted from %s)",
                    r.refused_retained, b->cfg.persistence.path);
    return 0;
}
