#include "broker/route/deliver.h"

#include <stdlib.h>
#include <string.h>

#include "broker/access.h"
#include "broker/broker.h"
#include "broker/route/msg.h"
#include "broker/route/replay.h"
#include "broker/route/retain.h"
#include "broker/session/session.h"
#include "broker/route/trie.h"
#include "broker/store/persist.h"
#include "protocol/mqtt.h"

static struct conn *online(struct session *s)
{
    return s->conn && s->conn->state == CONN_ACTIVE ? s->conn : NULL;
}

struct pub pub_of_bytes(const uint8_t *topic, size_t topic_len, const uint8_t *payload,
                        size_t payload_len, uint8_t qos, bool retain)
{
    return (struct pub){topic, (uint16_t)topic_len, payload, payload_len, qos, retain, NULL, false};
}

struct pub pub_of_msg(struct msg *m)
{
    return (struct pub){m->topic, m->topic_len, m->payload, m->payload_len,
                        m->qos,   m->retain,    m,          false};
}

struct msg *pub_msg(struct pub *p)
{
    if (!p->m) {
        p->m = msg_new(p->topic, p->topic_len, p->payload, p->payload_len, p->qos, p->retain);
        p->own = p->m != NULL;
    }
    return p->m;
}

void pub_release(struct pub *p)
{
    if (p->own) msg_unref(p->m);
    p->m = NULL;
    p->own = false;
}

/* Fixed header and packet id are written per subscriber. A small message is
 * copied whole, straight from where it is (often the publisher's read
 * buffer), so a burst of them is one contiguous write; the topic and payload
 * of a large one are referenced from the shared msg, never copied. */
static void send_publish(struct broker *b, struct conn *c, struct pub *p, uint8_t qos, bool dup,
                         bool retain, uint16_t pid)
{
    size_t topic_wire = 2 + (size_t)p->topic_len;
    uint8_t hdr[1 + 4 + 2];
    hdr[0] = (uint8_t)(MQTT_PUBLISH << 4 | (dup ? 0x08 : 0) | qos << 1 | (retain ? 1 : 0));
    size_t n = 1 + mqtt_remlen_encode(hdr + 1, topic_wire + (qos ? 2 : 0) + p->payload_len);
    uint8_t id[2] = {(uint8_t)(pid >> 8), (uint8_t)pid}; /* MQTT-2.3.1-5: none for QoS 0 */
    if (qos == 2 && !conn_after_commit(b, c)) return; /* see conn_hold.c */
    b->stats.msgs_sent++;
    if (p->payload_len <= OUTQ_COPY_MAX) { /* assembled in place, one reservation */
        uint8_t *at = conn_send_space(b, c, n + topic_wire + (qos ? 2 : 0) + p->payload_len);
        if (!at) return;
        memcpy(at, hdr, n);
        at += n;
        *at++ = (uint8_t)(p->topic_len >> 8);
        *at++ = (uint8_t)p->topic_len;
        memcpy(at, p->topic, p->topic_len);
        at += p->topic_len;
        if (qos) {
            memcpy(at, id, 2);
            at += 2;
        }
        if (p->payload_len) memcpy(at, p->payload, p->payload_len);
        return;
    }
    struct msg *m = pub_msg(p);
    if (!m) {
        conn_close(b, c, "out of memory", true);
        return;
    }
    if (qos == 0) {
        if (conn_send(b, c, hdr, n)) conn_send_msg(b, c, m, 0, topic_wire + m->payload_len);
    } else {
        if (conn_send(b, c, hdr, n) && conn_send_msg(b, c, m, 0, topic_wire) &&
            conn_send(b, c, id, 2))
            conn_send_msg(b, c, m, topic_wire, m->payload_len);
    }
}

/* All queues together are bounded too, or many offline sessions could each
 * fill theirs. Online subscribers are exempt: they hold their publishers
 * back instead of dropping (queue_bound_check), so their queues stay at
 * their own bounds. */
static bool offline_total_full(const struct broker *b, const struct msg *m)
{
    uint64_t max = b->cfg.limits.max_queued_bytes_total;
    return max && b->queued_bytes_total + m->payload_len > max;
}

static void count_drop(struct broker *b, struct session *s)
{
    b->stats.dropped_queue_full++;
    /* Logged on the first loss and then every 1000th, not once per message. */
    if (s->dropped++ % 1000 == 0)
        log_warning(&b->log,
                    "queue full, message dropped: client=%s queued=%u bytes=%zu dropped=%llu",
                    s->client_id, s->q_len, s->q_bytes, (unsigned long long)s->dropped);
}

/* Why QoS 0 to c is dropped now, or NULL. */
static const char *qos0_drop_reason(struct broker *b, const struct conn *c)
{
    uint64_t limit = b->cfg.limits.max_qos0_pending_bytes;
    if (limit && c->out.bytes > limit) return "limits.max_qos0_pending_bytes";
    /* Over the broker-wide budget every client keeps its fair share, and
     * the ones holding more lose their QoS 0 until the total is back. */
    if (broker_over_output_budget(b) && outq_mem(&c->out) > broker_output_fair_share(b)) {
        b->stats.dropped_qos0_total_budget++;
        return "limits.max_pending_bytes_total";
    }
    return NULL;
}

static void send_qos0(struct broker *b, struct conn *c, struct pub *p, bool retain)
{
    /* A slow reader loses live QoS 0 traffic, not the broker's memory. A
     * retained replay is not dropped: replay.c produces it only while the
     * client has room under these same bounds, so it waits instead, and a
     * '#' subscription over many retained topics is never silently
     * incomplete. */
    const char *why = retain ? NULL : qos0_drop_reason(b, c);
    if (why) {
        b->stats.dropped_qos0++;
        if (c->qos0_dropped++ == 0)
            log_warning(&b->log, "client not reading, dropping QoS 0 messages: client=%s (%s)",
                        conn_client_id(c), why);
        return;
    }
    send_publish(b, c, p, 0, false, retain, 0);
}

static bool at_bound(const struct broker *b, const struct session *s)
{
    uint64_t max_bytes = b->cfg.limits.max_queued_bytes;
    return s->q_len >= b->cfg.limits.max_queued_messages || (max_bytes && s->q_bytes >= max_bytes);
}

/* Hysteresis: publishers resume once the queue is down to half its bound,
 * not at the first free slot, so they are not woken for every message. */
static bool below_low_water(const struct broker *b, const struct session *s)
{
    uint64_t max_bytes = b->cfg.limits.max_queued_bytes;
    return s->q_len <= b->cfg.limits.max_queued_messages / 2 &&
           (!max_bytes || s->q_bytes <= max_bytes / 2);
}

/* Redis-style output limits for an online subscriber: at the soft bound the
 * publishers wait (and a timer starts); past the hard byte limit it goes. */
static void queue_bound_check(struct broker *b, struct session *s, struct conn *c)
{
    uint64_t hard = b->cfg.limits.slow_subscriber_max_bytes;
    if (hard && s->q_bytes + c->out.bytes > hard) {
        b->stats.slow_subscriber_drops++;
        log_warning(&b->log,
                    "slow subscriber: client=%s has %zu queued + %zu unsent bytes, over "
                    "limits.slow_subscriber_max_bytes; disconnecting",
                    s->client_id, s->q_bytes, c->out.bytes);
        conn_close(b, c, "slow subscriber (limits.slow_subscriber_max_bytes)", true);
        return;
    }
    if (!s->congested && at_bound(b, s)) {
        s->congested = true;
        s->congested_since_ms = b->now_ms;
        log_debug(&b->log, "subscriber at its queue bound, holding publishers: client=%s",
                  s->client_id);
        conn_rearm(b, c);
    }
    if (s->congested) b->route_congested = true;
}

void session_uncongest(struct broker *b, struct session *s)
{
    if (!s->congested) return;
    s->congested = false;
    b->wake_paused = true;
}

/* A new message straight into the window, or (q given) one leaving the
 * queue with its place in send order. */
static bool send_in_window(struct broker *b, struct session *s, struct conn *c, struct pub *p,
                           uint8_t qos, bool retain, const struct queued *q)
{
    struct msg *m = pub_msg(p); /* kept until acknowledged */
    if (!m) return false;
    struct inflight *e = session_inflight_put(s, b->cfg.limits.max_inflight, m, qos, retain,
                                              q ? q->seq : s->next_seq, session_next_pid(s),
                                              qos == 1 ? WAIT_PUBACK : WAIT_PUBREC);
    if (!e) return false;
    if (q)
        persist_entry_update(b, s, e);
    else
        persist_entry_new(b, s, e->seq, m, qos, retain, e->state, e->pid);
    send_publish(b, c, p, qos, false, retain, e->pid);
    return true;
}

static int queue_push(struct broker *b, struct session *s, struct msg *m, uint8_t qos, bool retain,
                      uint32_t max_msgs, uint64_t max_bytes)
{
    if (session_queue_push(s, m, qos, retain, max_msgs, max_bytes) < 0) return -1;
    persist_entry_new(b, s, session_last_seq(s), m, qos, retain, INFLIGHT_FREE, 0);
    return 0;
}

void session_deliver(struct broker *b, struct session *s, struct pub *p, uint8_t qos, bool retain)
{
    /* Live, retained and (when queued) offline messages alike. */
    if (!access_may_read(b, s, p->topic, p->topic_len)) return;
    struct conn *c = online(s);
    if (qos == 0) {
        if (c) send_qos0(b, c, p, retain);
        return; /* QoS 0 is not kept for offline sessions */
    }
    if (c && s->q_len == 0 && s->if_len < b->cfg.limits.max_inflight &&
        send_in_window(b, s, c, p, qos, retain, NULL))
        return;
    struct msg *m = pub_msg(p);
    if (!m) {
        count_drop(b, s); /* out of memory */
        return;
    }
    if (!c) { /* MQTT-3.1.2-5: offline sessions keep QoS 1/2, within bounds */
        if (offline_total_full(b, m)) {
            b->stats.dropped_queue_total++;
            count_drop(b, s);
        } else if (queue_push(b, s, m, qos, retain, b->cfg.limits.max_queued_messages,
                              b->cfg.limits.max_queued_bytes) < 0) {
            count_drop(b, s);
        }
        return;
    }
    /* Online: never drop an acknowledged message; hold the publishers back. */
    if (queue_push(b, s, m, qos, retain, UINT32_MAX, 0) < 0) {
        count_drop(b, s); /* out of memory */
        return;
    }
    queue_bound_check(b, s, c);
}

void session_pump(struct broker *b, struct session *s)
{
    struct conn *c = online(s);
    struct queued q;
    while (c && s->if_len < b->cfg.limits.max_inflight && session_queue_pop(s, &q)) {
        struct pub p = pub_of_msg(q.m);
        /* Checked again on the way out: the rights may have shrunk on a
         * reload, or the session resumed under another user name. */
        if (!access_may_read(b, s, p.topic, p.topic_len)) {
            persist_entry_done(b, s, q.seq, q.m);
        } else if (!send_in_window(b, s, c, &p, q.qos, q.retain, &q)) {
            persist_entry_done(b, s, q.seq, q.m);
            count_drop(b, s);
        }
        msg_unref(q.m);
        c = online(s);
    }
    if (s->congested && below_low_water(b, s)) session_uncongest(b, s);
    replay_wake(b, s); /* window room (after an ack) or a reconnect */
}

void session_resend(struct broker *b, struct session *s)
{
    struct conn *c = online(s);
    for (uint32_t i = 0; c && i < s->if_len; i++) {
        struct inflight *e = session_inflight_at(s, i);
        if (e->state == WAIT_PUBACK || e->state == WAIT_PUBREC) { /* MQTT-3.3.1-1 */
            struct pub p = pub_of_msg(e->m);
            send_publish(b, c, &p, e->qos, true, e->retain, e->pid);
        } else if (e->state == WAIT_PUBCOMP) {
            uint8_t rel[4] = {MQTT_PUBREL << 4 | 0x02, 2, (uint8_t)(e->pid >> 8), (uint8_t)e->pid};
            if (conn_after_commit(b, c)) conn_send(b, c, rel, sizeof(rel));
        }
    }
    session_pump(b, s);
}

/* --- routing --- */

static void collect(void *ctx, void *sub, uint8_t qos)
{
    struct broker *b = ctx;
    struct session *s = sub;
    if (s->match_gen == b->match_gen) { /* MQTT-3.3.5-1: one copy, highest QoS */
        struct route_match *r = &b->matches[s->match_idx];
        if (qos > r->qos) r->qos = qos;
        return;
    }
    if (b->n_matches == b->cap_matches) {
        size_t ncap = b->cap_matches ? b->cap_matches * 2 : 64;
        struct route_match *n = realloc(b->matches, ncap * sizeof(*n));
        if (!n) {
            log_error(&b->log, "out of memory routing a message: a subscriber missed it");
            return;
        }
        b->matches = n;
        b->cap_matches = ncap;
    }
    s->match_gen = b->match_gen;
    s->match_idx = (uint32_t)b->n_matches;
    b->matches[b->n_matches++] = (struct route_match){s, qos};
}

/* Store p as its topic's retained message. When that fails it is still
 * delivered: only later subscribers miss it. */
static void retain(struct broker *b, struct pub *p)
{
    struct msg *m = pub_msg(p);
    /* The one it replaces, kept alive until the store has been told. */
    struct msg *old = b->persist && m ? retain_find(b->retained, p->topic, p->topic_len) : NULL;
    if (old) msg_ref(old);
    int r = m ? retain_set(b->retained, m) : -1;
    if (r == 0 && (old || m->payload_len))
        persist_retained(b, p->topic, p->topic_len, old, m->payload_len ? m : NULL);
    msg_unref(old);
    if (r == RETAIN_FULL) {
        /* Logged on the first refusal and then every 1000th. */
        if (b->stats.dropped_retained++ % 1000 == 0)
            log_warning(&b->log,
                        "retained store full (%llu bytes, limits.max_retained_bytes): message on "
                        "%.*s not retained (refused so far: %llu)",
                        (unsigned long long)retain_bytes(b->retained), (int)p->topic_len,
                        (const char *)p->topic, (unsigned long long)b->stats.dropped_retained);
    } else if (r < 0) {
        log_error(&b->log, "out of memory: retained message for %.*s not stored", (int)p->topic_len,
                  (const char *)p->topic);
    }
}

void broker_publish(struct broker *b, struct pub *p)
{
    if (p->retain) retain(b, p); /* MQTT-3.3.1-5 */
    b->match_gen++;
    b->n_matches = 0;
    trie_match(b->subs, p->topic, p->topic_len, collect, b);
    b->route_work += b->n_matches;
    for (size_t i = 0; i < b->n_matches; i++) {
        struct route_match r = b->matches[i];
        uint8_t qos = r.qos < p->qos ? r.qos : p->qos; /* MQTT-3.8.4-6 */
        session_deliver(b, r.s, p, qos, false);        /* MQTT-3.3.1-9 */
    }
}

void broker_queue_will(struct broker *b, struct msg *will, const struct session *s,
                       const char *addr)
{
    /* As Mosquitto: the will topic is checked for write when the will is
     * published, with the rights of that moment; a denied will is dropped. */
    if (!access_may_publish(b, s, will->topic, will->topic_len, "will")) return;
    if (b->n_wills == b->cap_wills) {
        size_t ncap = b->cap_wills ? b->cap_wills * 2 : 16;
        struct msg **n = realloc(b->wills, ncap * sizeof(*n));
        if (!n) {
            log_error(&b->log, "out of memory: will of %s on %.*s lost", addr, (int)will->topic_len,
                      (const char *)will->topic);
            return;
        }
        b->wills = n;
        b->cap_wills = ncap;
    }
    log_info(&b->log, "publishing will: addr=%s topic=%.*s", addr, (int)will->topic_len,
             (const char *)will->topic);
    b->wills[b->n_wills++] = msg_ref(will);
}

void broker_publish_wills(struct broker *b)
{
    /* Index loop: publishing can close connections that queue more wills. */
    for (size_t i = 0; i < b->n_wills; i++) {
        struct msg *will = b->wills[i];
        struct pub p = pub_of_msg(will);
        broker_publish(b, &p);
        msg_unref(will);
    }
    b->n_wills = 0;
}
