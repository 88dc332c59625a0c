#include "broker/session/session.h"

#include <stdlib.h>
#include <string.h>

#include "broker/route/replay.h"

struct session *session_new(const uint8_t *id, size_t len, uint32_t hash)
{
    struct session *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->client_id = malloc(len + 1);
    if (!s->client_id) {
        free(s);
        return NULL;
    }
    memcpy(s->client_id, id, len);
    s->client_id[len] = '\0';
    s->id_len = (uint16_t)len;
    s->hash = hash;
    return s;
}

int session_set_user(struct session *s, bool has_user, const uint8_t *user, size_t len)
{
    if (!has_user && !s->has_user) return 0; /* anonymous again: nothing to move */
    size_t id_size = (size_t)s->id_len + 1;
    char *p = realloc(s->client_id, id_size + (has_user ? len + 1 : 0));
    if (!p) return -1;
    if (has_user) {
        if (len) memcpy(p + id_size, user, len);
        p[id_size + len] = '\0';
    }
    s->client_id = p;
    s->has_user = has_user;
    s->user_len = has_user ? (uint16_t)len : 0;
    return 0;
}

void session_free(struct session *s)
{
    if (!s) return;
    sub_index_free(&s->subs);
    for (uint32_t i = 0; i < s->if_len; i++)
        msg_unref(session_inflight_at(s, i)->m);
    free(s->inflight);
    struct queued q;
    while (session_queue_pop(s, &q))
        msg_unref(q.m);
    free(s->queue);
    id_set_free(&s->rx_qos2);
    replay_free(s->replay);
    free(s->client_id);
    free(s);
}

/* --- subscriptions --- */

bool session_sub_has(const struct session *s, const struct hash_key *k, const uint8_t *filter,
                     size_t len)
{
    return sub_index_find(&s->subs, k, filter, len) != NULL;
}

int session_sub_set(struct session *s, const struct hash_key *k, const uint8_t *filter, size_t len,
                    uint8_t qos)
{
    return sub_index_set(&s->subs, k, filter, len, qos);
}

bool session_sub_remove(struct session *s, const struct hash_key *k, const uint8_t *filter,
                        size_t len)
{
    return sub_index_remove(&s->subs, k, filter, len);
}

/* --- outgoing window --- */

struct inflight *session_inflight_at(struct session *s, uint32_t i)
{
    return &s->inflight[(s->if_head + i) % s->if_cap];
}

static bool pid_in_use(struct session *s, uint16_t pid)
{
    for (uint32_t i = 0; i < s->if_len; i++) {
        struct inflight *e = session_inflight_at(s, i);
        if (e->state != INFLIGHT_FREE && e->pid == pid) return true;
    }
    return false;
}

static int grow_inflight(struct session *s, uint32_t max_inflight)
{
    uint32_t ncap = s->if_cap ? s->if_cap * 2 : 4;
    if (ncap > max_inflight) ncap = max_inflight;
    if (ncap <= s->if_cap) ncap = s->if_cap + 1; /* window shrank on reload: still make room */
    struct inflight *n = malloc(ncap * sizeof(*n));
    if (!n) return -1;
    for (uint32_t i = 0; i < s->if_len; i++)
        n[i] = *session_inflight_at(s, i);
    free(s->inflight);
    s->inflight = n;
    s->if_cap = ncap;
    s->if_head = 0;
    return 0;
}

struct inflight *session_inflight_put(struct session *s, uint32_t max_inflight, struct msg *m,
                                      uint8_t qos, bool retain, uint64_t seq, uint16_t pid,
                                      uint8_t state)
{
    if (s->if_len == s->if_cap && grow_inflight(s, max_inflight) < 0) return NULL;
    struct inflight *e = session_inflight_at(s, s->if_len++);
    *e = (struct inflight){m ? msg_ref(m) : NULL, seq, pid, qos, state, retain};
    s->if_active++;
    if (seq >= s->next_seq) s->next_seq = seq + 1;
    return e;
}

uint16_t session_next_pid(struct session *s)
{
    /* Ids in use are at most the window (<= 65535 entries), so this ends. */
    uint16_t pid = s->last_pid;
    do {
        pid = (uint16_t)(pid + 1);
    } while (pid == 0 || pid_in_use(s, pid));
    s->last_pid = pid;
    return pid;
}

struct inflight *session_inflight_add(struct session *s, uint32_t max_inflight, struct msg *m,
                                      uint8_t qos, bool retain)
{
    return session_inflight_put(s, max_inflight, m, qos, retain, s->next_seq, session_next_pid(s),
                                qos == 1 ? WAIT_PUBACK : WAIT_PUBREC);
}

struct inflight *session_inflight_find(struct session *s, uint16_t pid, uint8_t state)
{
    for (uint32_t i = 0; i < s->if_len; i++) {
        struct inflight *e = session_inflight_at(s, i);
        if (e->pid == pid && e->state == state) return e;
    }
    return NULL;
}

void session_inflight_release(struct session *s, struct inflight *e)
{
    msg_unref(e->m);
    e->m = NULL;
    e->state = INFLIGHT_FREE;
    s->if_active--;
    while (s->if_len > 0 && session_inflight_at(s, 0)->state == INFLIGHT_FREE) {
        s->if_head = (s->if_head + 1) % s->if_cap;
        s->if_len--;
    }
    if (s->if_len == 0) { /* an idle session keeps no window memory */
        free(s->inflight);
        s->inflight = NULL;
        s->if_cap = s->if_head = 0;
    }
}

/* --- queue --- */

static int queue_put(struct session *s, struct msg *m, uint8_t qos, bool retain, uint64_t seq)
{
    if (s->q_len == s->q_cap) {
        uint32_t ncap = s->q_cap ? s->q_cap * 2 : 4;
        struct queued *n = malloc(ncap * sizeof(*n));
        if (!n) return -1;
        for (uint32_t i = 0; i < s->q_len; i++)
            n[i] = s->queue[(s->q_head + i) % s->q_cap];
        free(s->queue);
        s->queue = n;
        s->q_cap = ncap;
        s->q_head = 0;
    }
    s->queue[(s->q_head + s->q_len) % s->q_cap] = (struct queued){msg_ref(m), seq, qos, retain};
    s->q_len++;
    s->q_bytes += m->payload_len;
    if (s->q_total) *s->q_total += m->payload_len;
    if (seq >= s->next_seq) s->next_seq = seq + 1;
    return 0;
}

int session_queue_push(struct session *s, struct msg *m, uint8_t qos, bool retain,
                       uint32_t max_msgs, uint64_t max_bytes)
{
    if (s->q_len >= max_msgs) return -1;
    if (max_bytes && s->q_bytes + m->payload_len > max_bytes) return -1;
    return queue_put(s, m, qos, retain, s->next_seq);
}

int session_restore_entry(struct session *s, struct msg *m, uint8_t qos, bool retain, uint8_t state,
                          uint16_t pid, uint64_t seq)
{
    if (state == INFLIGHT_FREE) return m ? queue_put(s, m, qos, retain, seq) : -1;
    if (!m && state != WAIT_PUBCOMP) return -1;
    if (pid > s->last_pid) s->last_pid = pid;
    return session_inflight_put(s, UINT32_MAX, m, qos, retain, seq, pid, state) ? 0 : -1;
}

bool session_queue_pop(struct session *s, struct queued *out)
{
    if (s->q_len == 0) return false;
    *out = s->queue[s->q_head];
    s->q_head = (s->q_head + 1) % s->q_cap;
    s->q_len--;
    s->q_bytes -= out->m->payload_len;
    if (s->q_total) *s->q_total -= out->m->payload_len;
    if (s->q_len == 0) {
        free(s->queue);
        s->queue = NULL;
        s->q_cap = s->q_head = 0;
    }
    return true;
}

/* --- inbound QoS 2 --- */

int session_rx_qos2_add(struct session *s, uint16_t pid)
{
    return id_set_add(&s->rx_qos2, pid);
}

bool session_rx_qos2_remove(struct session *s, uint16_t pid)
{
    return id_set_remove(&s->rx_qos2, pid);
}
