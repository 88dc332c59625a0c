/* Session state of one client id (MQTT 3.1.1 section 4.1): its subscription
 * filters, the outgoing QoS 1/2 window awaiting acks (in send order), the
 * queue of messages waiting for the window or for the client to come back,
 * and the inbound QoS 2 packet ids awaiting PUBREL. Pure bookkeeping: no I/O;
 * sending is broker/route/deliver.c's job. A session outlives its connection when
 * the client asked for clean session 0. */
#ifndef STARLING_BROKER_SESSION_H
#define STARLING_BROKER_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/hash.h"
#include "broker/session/id_set.h"
#include "broker/route/msg.h"
#include "broker/session/sub_index.h"

struct conn;
struct replay;

enum inflight_state { INFLIGHT_FREE = 0, WAIT_PUBACK, WAIT_PUBREC, WAIT_PUBCOMP };

struct inflight {
    struct msg *m; /* NULL once the PUBLISH was released (WAIT_PUBCOMP) */
    uint64_t seq;  /* the entry's place in send order, its key in the store */
    uint16_t pid;
    uint8_t qos;
    uint8_t state;
    bool retain;
};

struct queued {
    struct msg *m;
    uint64_t seq;
    uint8_t qos;
    bool retain;
};

/* Laid out without padding: a broker holds one per client id. */
struct session {
    /* NUL-terminated copy, followed in the same block by the user name
     * (NUL-terminated too) when has_user: see session_user. */
    char *client_id;
    struct conn *conn; /* NULL while the client is offline */
    struct session *hnext;
    struct sub_index subs;
    /* Offline persistent sessions, oldest disconnect first (session_lru.h). */
    struct session *lru_prev, *lru_next;
    union {
        uint64_t offline_since_ms;   /* offline (in_lru) */
        uint64_t congested_since_ms; /* online and congested */
    };

    /* Ring, in send order. Entries in the middle may be INFLIGHT_FREE after
     * an out-of-order ack; they are reclaimed when they reach the head. */
    struct inflight *inflight;
    uint32_t if_head, if_len, if_cap, if_active;

    struct queued *queue; /* ring */
    uint32_t q_head, q_len, q_cap;
    uint32_t hash;
    size_t q_bytes;
    uint64_t *q_total;     /* the broker's sum of q_bytes over all sessions, or NULL */
    struct replay *replay; /* retained replays still running (replay.h), or NULL */

    struct id_set rx_qos2; /* inbound QoS 2 ids awaiting PUBREL */

    uint64_t match_gen; /* router de-duplication, see deliver.c */
    uint32_t match_idx;
    uint16_t id_len;
    uint16_t last_pid;
    uint64_t dropped;   /* messages lost to a full queue */
    uint64_t next_seq;  /* of the next queued or inflight entry */
    uint64_t store_key; /* its key in the store once stored (persistent, persistence on), else 0 */
    bool clean;
    bool in_lru;
    /* Online at its queue bound: publishers feeding it are held back. */
    bool congested;
    /* The user name its latest CONNECT authenticated with (the ACL's
     * subject); in the padding, so a session costs no more memory. */
    bool has_user;
    uint16_t user_len;
};

struct session *session_new(const uint8_t *id, size_t len, uint32_t hash);
/* Frees all state and releases every message. Subscriptions must already be
 * removed from the router by the caller. */
void session_free(struct session *s);

/* Set the user name (has_user false: none) of the connection now attached:
 * a resumed session takes the new connection's. 0, or -1 on out of memory
 * (nothing changed). len must fit 16 bits (MQTT strings do). */
int session_set_user(struct session *s, bool has_user, const uint8_t *user, size_t len);
/* The user name, or NULL. */
static inline const char *session_user(const struct session *s)
{
    return s->has_user ? s->client_id + s->id_len + 1 : NULL;
}

/* Subscriptions, hashed under the broker's key. session_sub_set returns 1
 * if added, 0 if the QoS of an existing identical filter was replaced, -1 on
 * out of memory. */
static inline uint32_t session_sub_count(const struct session *s)
{
    return s->subs.count;
}
bool session_sub_has(const struct session *s, const struct hash_key *k, const uint8_t *filter,
                     size_t len);
int session_sub_set(struct session *s, const struct hash_key *k, const uint8_t *filter, size_t len,
                    uint8_t qos);
bool session_sub_remove(struct session *s, const struct hash_key *k, const uint8_t *filter,
                        size_t len);

/* Outgoing window. */
static inline uint32_t session_inflight_count(const struct session *s)
{
    return s->if_len;
}
/* Add a message to the window with a fresh packet id not in use. Returns the
 * entry, or NULL on out of memory. The caller checks the window size. */
struct inflight *session_inflight_add(struct session *s, uint32_t max_inflight, struct msg *m,
                                      uint8_t qos, bool retain);
/* A packet id not in use in the window. */
uint16_t session_next_pid(struct session *s);
/* The same for an entry that already has its place and packet id (one
 * leaving the queue keeps its seq; one restored keeps its pid and state). */
struct inflight *session_inflight_put(struct session *s, uint32_t max_inflight, struct msg *m,
                                      uint8_t qos, bool retain, uint64_t seq, uint16_t pid,
                                      uint8_t state);
/* Find the entry for pid in the given state, or NULL. */
struct inflight *session_inflight_find(struct session *s, uint16_t pid, uint8_t state);
/* Release an entry (final ack received) and reclaim the ring's head. */
void session_inflight_release(struct session *s, struct inflight *e);
/* The i-th ring entry in send order (0 <= i < if_len); may be FREE. */
struct inflight *session_inflight_at(struct session *s, uint32_t i);

/* Queue behind the window. push takes a ref. Returns 0, or -1 when full or
 * out of memory (the caller counts and logs the drop). */
int session_queue_push(struct session *s, struct msg *m, uint8_t qos, bool retain,
                       uint32_t max_msgs, uint64_t max_bytes);
/* The seq of the entry pushed or added last. */
static inline uint64_t session_last_seq(const struct session *s)
{
    return s->next_seq - 1;
}
/* A stored entry back into its session at start: state 0 queues it (no
 * bounds: it was within them when stored), else it enters the window with
 * its pid. m may be NULL only for WAIT_PUBCOMP. 0, or -1 on out of memory. */
int session_restore_entry(struct session *s, struct msg *m, uint8_t qos, bool retain, uint8_t state,
                          uint16_t pid, uint64_t seq);
/* Pop the oldest entry into *out (ownership of its ref moves to the caller). */
bool session_queue_pop(struct session *s, struct queued *out);

/* Inbound QoS 2. add returns 1 if new, 0 if already awaiting PUBREL, -1 on OOM. */
int session_rx_qos2_add(struct session *s, uint16_t pid);
bool session_rx_qos2_remove(struct session *s, uint16_t pid);

#endif
