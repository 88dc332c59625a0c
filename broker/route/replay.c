#include "broker/route/replay.h"

#include <stdbool.h>
#include <stdlib.h>

#include "broker/broker.h"
#include "broker/route/deliver.h"
#include "broker/route/retain.h"
#include "broker/session/session.h"
#include "broker/route/topic_map.h"

/* Output a replay lets a client have unsent, and store nodes one pump may
 * walk: tens of KB per turn keep a reading client fast (one writev's worth)
 * while a client that does not read costs the broker no more than this. */
#define REPLAY_CHUNK (64 * 1024)
#define REPLAY_VISITS 8192

struct replay_job {
    struct topic_key key; /* first member: the index key, over the cursor's filter */
    struct replay_job *prev, *next;
    struct retain_cursor *cur;
    uint8_t qos; /* granted */
};

struct replay {
    struct session *s;
    struct replay_job *head, *tail; /* in subscription order */
    struct topic_map index;         /* the same jobs by filter */
    /* On the broker's list of sessions to pump (b->replay_pending) while pprev. */
    struct replay **pprev, *pend_next;
};

static void unpend(struct replay *r)
{
    if (!r->pprev) return;
    *r->pprev = r->pend_next;
    if (r->pend_next) r->pend_next->pprev = r->pprev;
    r->pprev = NULL;
    r->pend_next = NULL;
}

void replay_wake(struct broker *b, struct session *s)
{
    struct replay *r = s->replay;
    if (!r || r->pprev) return;
    r->pend_next = b->replay_pending;
    if (r->pend_next) r->pend_next->pprev = &r->pend_next;
    b->replay_pending = r;
    r->pprev = &b->replay_pending;
}

static void job_free(struct replay *r, struct replay_job *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        r->head = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else
        r->tail = j->prev;
    topic_map_del(&r->index, &j->key);
    retain_cursor_free(j->cur);
    free(j);
}

void replay_free(struct replay *r)
{
    if (!r) return;
    unpend(r);
    while (r->head)
        job_free(r, r->head);
    topic_map_free(&r->index);
    free(r);
}

/* The session's last job is done: it keeps no replay memory. */
static void drop_if_idle(struct session *s)
{
    if (s->replay && !s->replay->head) {
        replay_free(s->replay);
        s->replay = NULL;
    }
}

static struct replay_job *find_job(struct broker *b, struct replay *r, const uint8_t *filter,
                                   size_t len, uint32_t *hash)
{
    *hash = topic_hash(&b->hash_key, filter, len);
    return (struct replay_job *)topic_map_get(&r->index, filter, len, *hash);
}

static struct replay_job *job_new(struct broker *b, struct replay *r, const uint8_t *filter,
                                  size_t len, uint32_t hash)
{
    struct replay_job *j = malloc(sizeof(*j));
    struct retain_cursor *cur = retain_cursor_new(b->retained, filter, len);
    if (!j || !cur) goto fail;
    j->cur = cur;
    j->key = (struct topic_key){retain_cursor_filter(cur, &len), hash, (uint32_t)len};
    if (topic_map_put(&r->index, &j->key) < 0) goto fail;
    j->next = NULL;
    j->prev = r->tail;
    if (r->tail)
        r->tail->next = j;
    else
        r->head = j;
    r->tail = j;
    return j;
fail:
    retain_cursor_free(cur);
    free(j);
    return NULL;
}

int replay_add(struct broker *b, struct session *s, const uint8_t *filter, size_t len, uint8_t qos)
{
    if (!s->replay) {
        if (!(s->replay = calloc(1, sizeof(*s->replay)))) return -1;
        s->replay->s = s;
        topic_map_init(&s->replay->index);
    }
    uint32_t hash;
    struct replay_job *j = find_job(b, s->replay, filter, len, &hash);
    if (j) { /* one job per filter: a repeated subscription starts it over */
        retain_cursor_restart(j->cur);
    } else if (!(j = job_new(b, s->replay, filter, len, hash))) {
        drop_if_idle(s);
        return -1;
    }
    j->qos = qos;
    replay_wake(b, s);
    return 0;
}

void replay_cancel(struct broker *b, struct session *s, const uint8_t *filter, size_t len)
{
    uint32_t hash;
    struct replay_job *j = s->replay ? find_job(b, s->replay, filter, len, &hash) : NULL;
    if (!j) return;
    job_free(s->replay, j);
    drop_if_idle(s);
}

static struct conn *online(struct session *s)
{
    return s->conn && s->conn->state == CONN_ACTIVE ? s->conn : NULL;
}

/* Does the client have room for the next message of j? Output is kept under
 * both the chunk and the QoS 0 limit, so a replayed QoS 0 message is never
 * dropped; QoS 1/2 go straight into the window, never into the queue. */
static bool has_room(const struct broker *b, const struct session *s, const struct conn *c,
                     const struct replay_job *j)
{
    uint64_t room = REPLAY_CHUNK, q0 = b->cfg.limits.max_qos0_pending_bytes;
    if (q0 && q0 < room) room = q0;
    /* Over the broker-wide budget a replay keeps to the fair share that
     * live QoS 0 is held to; a client with empty output always gets one. */
    if (broker_over_output_budget(b) && broker_output_fair_share(b) < room)
        room = broker_output_fair_share(b);
    if (c->out.bytes >= room) return false; /* woken when the output drains */
    return j->qos == 0 || (s->q_len == 0 && s->if_len < b->cfg.limits.max_inflight);
}

/* One chunk. True if the walk budget ran out (more next turn); otherwise it
 * stopped for room, for the client going away, or because all is done. */
static bool pump(struct broker *b, struct session *s)
{
    struct conn *c = online(s);
    uint32_t budget = REPLAY_VISITS;
    struct replay_job *j;
    while (c && s->replay && (j = s->replay->head) && has_room(b, s, c, j)) {
        struct msg *m;
        enum retain_step r = retain_cursor_next(j->cur, &budget, &m);
        if (r == RETAIN_MORE) return true;
        if (r == RETAIN_DONE) {
            job_free(s->replay, j);
            drop_if_idle(s);
            continue;
        }
        uint8_t qos = m->qos < j->qos ? m->qos : j->qos;
        struct pub p = pub_of_msg(m);
        session_deliver(b, s, &p, qos, true); /* MQTT-3.3.1-6, MQTT-3.3.1-8 */
        c = online(s);
    }
    return false;
}

void replay_run(struct broker *b)
{
    struct replay *r, *again = NULL;
    while ((r = b->replay_pending)) {
        unpend(r);
        struct session *s = r->s;
        if (pump(b, s)) { /* r is alive: only finishing frees it */
            r->pend_next = again;
            again = r;
        }
    }
    while ((r = again)) { /* next turn, not this one again */
        again = r->pend_next;
        r->pend_next = NULL;
        replay_wake(b, r->s);
    }
}
