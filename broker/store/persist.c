#include "broker/store/persist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/route/msg.h"
#include "broker/session/session.h"
#include "broker/store/batch.h"
#include "broker/store/persist_internal.h"
#include "broker/store/writer.h"

/* A failed commit is retried after RETRY_MIN_MS, doubling up to
 * RETRY_MAX_MS; the failure is logged again every FAIL_LOG_MS. */
#define RETRY_MIN_MS 50
#define RETRY_MAX_MS 2000
#define FAIL_LOG_MS 10000
/* At shutdown a failing disk gets this many tries, RETRY_MIN_MS apart. */
#define CLOSE_TRIES 20

int64_t persist_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct batch *filling(struct persist *p)
{
    return &p->batch[p->cur];
}

static struct batch *committing(struct persist *p)
{
    return &p->batch[p->cur ^ 1];
}

void persist_record(struct broker *b, const struct store_op *op, bool copy_a, bool copy_b,
                    struct msg *keep)
{
    struct persist *p = b->persist;
    p->recorded++;
    if (batch_add(filling(p), op, copy_a, copy_b, keep) == 0) return;
    /* The change stays in memory; only a restart would miss it. */
    if (p->lost++ % 1000 == 0)
        log_error(&b->log,
                  "persistence: out of memory recording a change for %s: it is not stored "
                  "(%llu so far)",
                  b->cfg.persistence.path, (unsigned long long)p->lost);
}

/* --- messages: stored once, while a stored reference holds them --- */

static void msg_stored_ref(struct broker *b, struct msg *m)
{
    if (m->store_refs++) return;
    if (!m->store_id) m->store_id = ++b->persist->next_msg_id;
    persist_record(b,
                   &(struct store_op){.type = STORE_MSG_PUT,
                                      .id = m->store_id,
                                      .qos = m->qos,
                                      .retain = m->retain,
                                      .a = m->topic,
                                      .a_len = m->topic_len,
                                      .b = m->payload,
                                      .b_len = m->payload_len},
                   false, false, m);
}

static void msg_stored_unref(struct broker *b, struct msg *m)
{
    if (--m->store_refs) return;
    persist_record(b, &(struct store_op){.type = STORE_MSG_DEL, .id = m->store_id}, false, false,
                   NULL);
}

void persist_retained(struct broker *b, const uint8_t *topic, size_t len, struct msg *old,
                      struct msg *now)
{
    if (!b->persist) return;
    if (now) {
        msg_stored_ref(b, now);
        persist_record(b,
                       &(struct store_op){.type = STORE_RETAIN_PUT,
                                          .id = now->store_id,
                                          .a = now->topic,
                                          .a_len = now->topic_len},
                       false, false, now);
    } else {
        persist_record(b, &(struct store_op){.type = STORE_RETAIN_DEL, .a = topic, .a_len = len},
                       true, false, NULL);
    }
    if (old) msg_stored_unref(b, old);
}

/* --- sessions --- */

static bool stored(const struct broker *b, const struct session *s)
{
    return b->persist && s->store_key;
}

static void put_session(struct broker *b, struct session *s, int64_t offline_since)
{
    const char *user = session_user(s);
    persist_record(b,
                   &(struct store_op){.type = STORE_SESSION_PUT,
                                      .key = s->store_key,
                                      .time = offline_since,
                                      .a = (const uint8_t *)s->client_id,
                                      .a_len = s->id_len,
                                      .has_user = user != NULL,
                                      .b = (const uint8_t *)user,
                                      .b_len = user ? s->user_len : 0},
                   true, user != NULL, NULL);
}

void persist_session_online(struct broker *b, struct session *s)
{
    if (!b->persist || s->clean) return;
    if (!s->store_key) s->store_key = ++b->persist->next_key;
    put_session(b, s, 0);
}

void persist_session_offline(struct broker *b, struct session *s)
{
    if (stored(b, s) && !s->clean) put_session(b, s, persist_wall_ms());
}

void persist_session_gone(struct broker *b, struct session *s)
{
    if (!stored(b, s)) return;
    for (uint32_t i = 0; i < s->if_len; i++) {
        struct inflight *e = session_inflight_at(s, i);
        if (e->state != INFLIGHT_FREE && e->m) msg_stored_unref(b, e->m);
    }
    for (uint32_t i = 0; i < s->q_len; i++)
        msg_stored_unref(b, s->queue[(s->q_head + i) % s->q_cap].m);
    persist_record(b, &(struct store_op){.type = STORE_SESSION_DEL, .key = s->store_key}, false,
                   false, NULL);
    s->store_key = 0;
}

void persist_sub(struct broker *b, struct session *s, const uint8_t *filter, size_t len,
                 uint8_t qos)
{
    if (!stored(b, s)) return;
    persist_record(
        b,
        &(struct store_op){
            .type = STORE_SUB_PUT, .key = s->store_key, .qos = qos, .a = filter, .a_len = len},
        true, false, NULL);
}

void persist_unsub(struct broker *b, struct session *s, const uint8_t *filter, size_t len)
{
    if (!stored(b, s)) return;
    persist_record(
        b,
        &(struct store_op){.type = STORE_SUB_DEL, .key = s->store_key, .a = filter, .a_len = len},
        true, false, NULL);
}

static void put_entry(struct broker *b, struct session *s, uint64_t seq, uint64_t msg_id,
                      uint8_t qos, bool retain, uint8_t state, uint16_t pid, bool created)
{
    persist_record(b,
                   &(struct store_op){.type = STORE_ENTRY_PUT,
                                      .created = created,
                                      .key = s->store_key,
                                      .seq = seq,
                                      .id = msg_id,
                                      .qos = qos,
                                      .retain = retain,
                                      .state = state,
                                      .pid = pid},
                   false, false, NULL);
}

void persist_entry_new(struct broker *b, struct session *s, uint64_t seq, struct msg *m,
                       uint8_t qos, bool retain, uint8_t state, uint16_t pid)
{
    if (!stored(b, s)) return;
    msg_stored_ref(b, m);
    put_entry(b, s, seq, m->store_id, qos, retain, state, pid, true);
}

void persist_entry_update(struct broker *b, struct session *s, const struct inflight *e)
{
    if (!stored(b, s)) return;
    bool released = e->state == WAIT_PUBCOMP; /* MQTT-4.3.3-1: only PUBREL from now on */
    put_entry(b, s, e->seq, released || !e->m ? 0 : e->m->store_id, e->qos, e->retain, e->state,
              e->pid, false);
    if (released && e->m) msg_stored_unref(b, e->m);
}

void persist_entry_done(struct broker *b, struct session *s, uint64_t seq, struct msg *m)
{
    if (!stored(b, s)) return;
    persist_record(b, &(struct store_op){.type = STORE_ENTRY_DEL, .key = s->store_key, .seq = seq},
                   false, false, NULL);
    if (m) msg_stored_unref(b, m);
}

void persist_rx(struct broker *b, struct session *s, uint16_t pid, bool awaiting)
{
    if (!stored(b, s)) return;
    persist_record(b,
                   &(struct store_op){.type = awaiting ? STORE_RX_PUT : STORE_RX_DEL,
                                      .key = s->store_key,
                                      .pid = pid},
                   false, false, NULL);
}

/* --- group commit --- */

bool persist_holding(const struct broker *b)
{
    const struct persist *p = b->persist;
    return p && p->mode == PERSIST_DURABLE && (p->committing || p->batch[p->cur].n);
}

uint64_t persist_changes(const struct broker *b)
{
    return b->persist ? b->persist->recorded : 0;
}

uint32_t persist_open_batch(const struct broker *b)
{
    return b->persist->open_no;
}

bool persist_backlogged(const struct broker *b)
{
    const struct persist *p = b->persist;
    return p && p->batch[0].bytes + p->batch[1].bytes > b->cfg.persistence.max_pending_bytes;
}

static void commit_done(struct broker *b);

static void submit(struct broker *b)
{
    struct persist *p = b->persist;
    p->committing_no = p->open_no++;
    p->cur ^= 1;
    p->committing = true;
    batch_compact(committing(p));
    if (batch_empty(committing(p))) { /* everything in it cancelled out */
        commit_done(b);
        return;
    }
    writer_submit(p->w, committing(p)->ops, committing(p)->n);
}

void persist_end_turn(struct broker *b)
{
    struct persist *p = b->persist;
    if (!p || p->committing) return;
    if (!batch_empty(filling(p))) {
        if (p->mode == PERSIST_DURABLE || persist_backlogged(b)) submit(b);
        return;
    }
    /* Nothing to write: what waited for this batch (queued while the last
     * one committed) may go. The next output waits for the next number. */
    if (b->n_held) {
        p->done_no = p->open_no++;
        conn_hold_release(b, p->done_no);
    }
}

static void commit_failed(struct broker *b, const char *err)
{
    struct persist *p = b->persist;
    b->stats.store_failures++;
    if (!p->failing || b->now_ms >= p->fail_log_ms) {
        log_error(&b->log,
                  "persistence: cannot write %s: %s; %s, retrying (failed commits so far: %llu)",
                  b->cfg.persistence.path, err,
                  p->mode == PERSIST_DURABLE
                      ? "acknowledgements wait and publishers are held back until it succeeds"
                      : "changes are kept in memory until it succeeds",
                  (unsigned long long)b->stats.store_failures);
        p->fail_log_ms = b->now_ms + FAIL_LOG_MS;
    }
    p->failing = true;
    p->retry_ms = p->retry_ms ? p->retry_ms * 2 : RETRY_MIN_MS;
    if (p->retry_ms > RETRY_MAX_MS) p->retry_ms = RETRY_MAX_MS;
    timer_schedule(&b->timers, &b->persist_timer, b->now_ms + p->retry_ms);
}

static void commit_done(struct broker *b)
{
    struct persist *p = b->persist;
    if (!batch_empty(committing(p))) {
        uint64_t us = writer_last_us(p->w);
        b->stats.store_commits++;
        b->stats.store_commit_us_total += us;
        if (us > b->stats.store_commit_us_max) b->stats.store_commit_us_max = us;
    }
    batch_clear(committing(p));
    p->committing = false;
    if (p->failing) {
        log_warning(&b->log, "persistence: writing %s succeeds again after %llu failed commits",
                    b->cfg.persistence.path, (unsigned long long)b->stats.store_failures);
        p->failing = false;
        p->retry_ms = 0;
        if (p->mode == PERSIST_PERIODIC)
            timer_schedule(&b->timers, &b->persist_timer,
                           b->now_ms + b->cfg.persistence.flush_interval_ms);
        else
            timer_cancel(&b->timers, &b->persist_timer);
    }
    p->done_no = p->committing_no;
    conn_hold_release(b, p->done_no);
    if (b->paused) b->wake_paused = true; /* publishers held back for the disk */
}

void persist_on_commit(struct broker *b)
{
    struct persist *p = b->persist;
    int r;
    char err[256];
    if (!writer_poll(p->w, &r, err, sizeof err)) return;
    if (r < 0)
        commit_failed(b, err);
    else
        commit_done(b);
}

void persist_on_timer(struct broker *b)
{
    struct persist *p = b->persist;
    if (p->committing && !writer_busy(p->w)) { /* the failed batch, again */
        writer_submit(p->w, committing(p)->ops, committing(p)->n);
        return; /* commit_done re-arms the periodic flush */
    }
    if (p->mode != PERSIST_PERIODIC) return;
    if (!p->committing && !batch_empty(filling(p))) submit(b);
    timer_schedule(&b->timers, &b->persist_timer, b->now_ms + b->cfg.persistence.flush_interval_ms);
}

/* --- start and stop --- */

int persist_open(struct broker *b)
{
    const struct persistence_config *pc = &b->cfg.persistence;
    if (pc->mode == PERSIST_OFF) return 0;
    char err[512];
    uint64_t t0 = broker_now_us();
    struct store *st =
        store_open(pc->path, pc->mode == PERSIST_DURABLE ? STORE_SYNC_FULL : STORE_SYNC_NORMAL, err,
                   sizeof err);
    if (!st) {
        log_error(&b->log, "persistence: %s", err);
        return -1;
    }
    struct persist *p = calloc(1, sizeof(*p));
    if (!p) {
        store_close(st);
        log_error(&b->log, "persistence: out of memory");
        return -1;
    }
    p->mode = pc->mode;
    b->persist = p;
    store_max_ids(st, &p->next_msg_id, &p->next_key);
    struct persist_restored got;
    if (persist_restore(b, st, &got, err, sizeof err) < 0) {
        log_error(&b->log, "persistence: cannot restore from %s: %s", pc->path, err);
        store_close(st);
        return -1; /* persist_close frees p */
    }
    double mb = (double)store_disk_bytes(st) / (1024 * 1024);
    if (!(p->w = writer_start(st, err, sizeof err))) {
        store_close(st);
        log_error(&b->log, "persistence: %s", err);
        return -1;
    }
    b->store_io.kind = IO_STORE;
    b->store_io.fd = writer_fd(p->w);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &b->store_io};
    if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, b->store_io.fd, &ev) < 0) {
        log_error(&b->log, "persistence: epoll: cannot watch the writer");
        return -1;
    }
    if (p->mode == PERSIST_PERIODIC)
        timer_schedule(&b->timers, &b->persist_timer, b->now_ms + pc->flush_interval_ms);
    log_info(&b->log,
             "persistence: %s, database %s (%.1f MB): restored %zu retained messages, %zu "
             "sessions, %zu queued or inflight messages in %.1f ms",
             p->mode == PERSIST_DURABLE ? "durable" : "periodic", pc->path, mb, got.retained,
             got.sessions, got.entries, (double)(broker_now_us() - t0) / 1000.0);
    return 0;
}

/* Commit what is left, retrying a failing disk for a while. */
static void commit_rest(struct broker *b)
{
    struct persist *p = b->persist;
    char err[256] = "";
    for (int tries = 0; tries < CLOSE_TRIES; tries++) {
        if (p->committing) {
            if (!writer_busy(p->w)) writer_submit(p->w, committing(p)->ops, committing(p)->n);
            if (writer_wait(p->w, err, sizeof err) < 0) {
                usleep(RETRY_MIN_MS * 1000);
                continue;
            }
            b->stats.store_commits++;
            batch_clear(committing(p));
            p->committing = false;
        }
        if (batch_empty(filling(p))) return;
        submit(b);
    }
    log_error(&b->log, "persistence: cannot write %s at shutdown: %s; the last changes are lost",
              b->cfg.persistence.path, err);
}

void persist_close(struct broker *b)
{
    struct persist *p = b->persist;
    if (!p) return;
    if (p->w) {
        int64_t now = persist_wall_ms();
        for (size_t i = 0; i < b->sessions.n_buckets; i++)
            for (struct session *s = b->sessions.buckets[i]; s; s = s->hnext)
                if (s->conn && stored(b, s)) put_session(b, s, now);
        commit_rest(b);
        epoll_ctl(b->epfd, EPOLL_CTL_DEL, b->store_io.fd, NULL);
        writer_stop(p->w);
    }
    batch_free(&p->batch[0]);
    batch_free(&p->batch[1]);
    free(p);
    b->persist = NULL;
}
