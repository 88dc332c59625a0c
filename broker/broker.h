/* The broker context: the one struct that owns all broker state (config,
 * sockets, sessions, router, retained store, timers, counters). Everything
 * runs on one thread in broker_run's event loop: no locks. */
#ifndef STARLING_BROKER_BROKER_H
#define STARLING_BROKER_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/net/conn.h"
#include "broker/hash.h"
#include "broker/net/io.h"
#include "broker/log.h"
#include "broker/session/session_lru.h"
#include "broker/session/session_table.h"
#include "broker/timer.h"
#include "config/config.h"

struct trie;
struct retain_store;
struct passwd_db;
struct acl;
struct replay;

struct tls_ctx;
struct persist;

struct listener {
    struct io io;
    char name[72]; /* "bind:port" as actually bound */
    uint16_t port;
    struct tls_ctx *tls; /* TLS listener's configuration (a reference), NULL for TCP */
};

/* Counters: every limit hit and every dropped message is counted here. */
struct broker_stats {
    uint64_t connections_total;
    uint64_t protocol_errors;
    uint64_t msgs_received;
    uint64_t msgs_sent;
    uint64_t refused_max_connections;
    uint64_t refused_packet_too_large;
    /* PUBLISH, will topic or SUBSCRIBE filter over limits.max_topic_levels */
    uint64_t refused_topic_levels;
    uint64_t dropped_queue_full; /* QoS 1/2 lost to max_queued_messages/bytes */
    uint64_t dropped_qos0;       /* QoS 0 to a client over max_queued_bytes */
    uint64_t accept_errors;
    uint64_t backpressure_pauses;       /* publishers held back by a full subscriber */
    uint64_t slow_subscriber_drops;     /* subscribers disconnected by the slow-subscriber limits */
    uint64_t sessions_expired;          /* offline longer than limits.session_expiry */
    uint64_t sessions_evicted;          /* oldest offline session, for limits.max_sessions */
    uint64_t refused_max_sessions;      /* CONNECT refused: max_sessions reached, all online */
    uint64_t refused_subscriptions;     /* SUBACK 0x80 for limits.max_subscriptions_per_client */
    uint64_t dropped_qos0_total_budget; /* of dropped_qos0: over max_pending_bytes_total */
    uint64_t output_pauses_total_budget;    /* non-readers paused early, over the total budget */
    uint64_t backlog_turns;                 /* a connection's input was left for the next turn */
    uint64_t refused_connect_too_large;     /* first packet over limits.max_connect_size */
    uint64_t refused_unauthenticated_bytes; /* closed: limits.max_unauthenticated_bytes used up */
    uint64_t refused_input_bytes;           /* closed: limits.max_input_bytes_total used up */
    uint64_t dropped_queue_total;           /* of dropped_queue_full: max_queued_bytes_total */
    uint64_t dropped_retained;              /* not retained: limits.max_retained_bytes */
    uint64_t acl_denied_publishes;          /* PUBLISH and wills dropped by auth.acl_file */
    uint64_t acl_denied_subscriptions;      /* SUBACK 0x80 by auth.acl_file */
    uint64_t acl_denied_deliveries;         /* messages a subscriber may not read, not sent */
    uint64_t handshakes_deferred;           /* TLS handshake steps left for the next turn */
    uint64_t tls_handshake_failures;        /* failed, refused or timed-out TLS handshakes */
    uint64_t store_commits;                 /* batches committed to the store */
    uint64_t store_failures;                /* commits that failed (disk full, I/O error) */
    uint64_t store_commit_us_total;         /* time the writer spent committing */
    uint64_t store_commit_us_max;           /* the longest commit */
    uint64_t store_backlog_pauses;          /* publishers held back for the disk */
};

struct route_match {
    struct session *s;
    uint8_t qos;
};

struct broker {
    struct config cfg;
    struct config_overrides overrides; /* re-applied on every reload */
    struct logger log;
    int epfd;
    struct io sig;
    struct listener listeners[CONFIG_MAX_LISTENERS];
    size_t n_listeners;
    bool accept_paused;
    uint64_t accept_resume_ms;
    uint64_t last_refuse_log_ms;

    struct hash_key hash_key; /* random per process: client-chosen keys cannot collide on purpose */
    struct passwd_db *passwd; /* auth.password_file, loaded; NULL without one */
    struct acl *acl;          /* auth.acl_file, compiled; NULL without one (all allowed) */
    uint64_t acl_log_next_ms; /* ACL denials are logged again from then on */
    uint64_t acl_log_suppressed;
    struct trie *subs;
    struct retain_store *retained;
    struct session_table sessions;
    struct session_lru offline;     /* offline persistent sessions, oldest first */
    struct timer_node expiry_timer; /* at the oldest offline session's expiry */

    struct conn *conns; /* all live connections */
    size_t n_conns;
    struct conn *dirty;  /* connections with output queued this turn */
    struct conn *closed; /* closed this turn, freed at its end */
    struct conn *paused; /* publishers held back by congested subscribers */
    /* Connections with input to handle that they were not allowed to handle
     * (budget used up, or paused and resumed). Two lists: the one being
     * handled this turn and the one filling for the next, so each
     * connection gets one share per turn. */
    struct conn *backlog[2];
    uint8_t backlog_cur;      /* index of the list filling for the next turn */
    uint64_t out_mem_total;   /* outq memory of all connections (outq.h: mem) */
    uint64_t unauth_in_bytes; /* c->in capacity of connections before CONNECT */
    uint64_t in_bytes_total;  /* c->in capacity of all connections */
    bool wake_paused;         /* a congested subscriber drained: retry the paused */
    bool route_congested;     /* the message being routed met a congested subscriber */
    struct timer_wheel timers;
    uint64_t now_ms;

    uint8_t *rbuf; /* shared read buffer: packets are parsed in place */
    size_t rbuf_size;
    struct route_match *matches; /* scratch for routing one message */
    size_t n_matches, cap_matches;
    uint64_t match_gen;
    uint64_t queued_bytes_total; /* payload bytes in all session queues */
    uint64_t route_work;   /* deliveries routed so far: the cost of fan-out, for turn budgets */
    uint64_t handshake_us; /* TLS handshake time this turn (CONN_HANDSHAKE_US_PER_TURN) */
    uint64_t next_auto_id;
    uint32_t auto_id_prefix; /* random per run, so generated ids do not repeat */

    /* Wills and session frees are deferred to the end of the packet or turn
     * being handled, so no routing loop ever sees a session vanish or
     * re-enters itself. */
    struct msg **wills;
    size_t n_wills, cap_wills;
    struct session *dead_sessions; /* linked through hnext */
    struct replay *replay_pending; /* retained replays to pump at the end of the turn */

    struct persist *persist;         /* persistence.mode off: NULL */
    struct timer_node persist_timer; /* periodic flush, retry after a failed commit */
    struct io store_io;              /* the store writer's eventfd */
    struct conn **held;              /* connections with output held for a commit */
    size_t n_held, cap_held;

    struct broker_stats stats;
    bool stop;
};

/* Over limits.max_pending_bytes_total, a client's output gets at most this
 * share: QoS 0 to a client holding more is dropped, and one not reading its
 * acks is paused. 64 KiB is a few socket buffers' worth: a client that
 * reads keeps well under it, one that does not soon passes it. */
#define BROKER_OUTPUT_FAIR_SHARE (64 * 1024)

static inline bool broker_over_output_budget(const struct broker *b)
{
    uint64_t max = b->cfg.limits.max_pending_bytes_total;
    return max && b->out_mem_total > max;
}

/* Never more than budget / connections, so the shares of any number of
 * clients together stay within the budget again. */
static inline uint64_t broker_output_fair_share(const struct broker *b)
{
    uint64_t share = b->cfg.limits.max_pending_bytes_total / (b->n_conns ? b->n_conns : 1);
    return share < BROKER_OUTPUT_FAIR_SHARE ? share : BROKER_OUTPUT_FAIR_SHARE;
}

/* Open the listeners and everything else. On failure logs why and returns
 * -1; broker_free is still safe to call. */
int broker_init(struct broker *b, const struct config *cfg, const struct config_overrides *o);
/* Serve until SIGINT/SIGTERM. Returns 0. */
int broker_run(struct broker *b);
/* One loop turn: wait for events (at most max_wait_ms; -1 = until the next
 * timer), handle them, run the timers and the end-of-turn work. -1 if
 * epoll_wait failed. broker_run is this in a loop; tests and the broker
 * fuzzer drive it directly. */
int broker_turn(struct broker *b, int max_wait_ms);
/* Close every connection and free everything. */
void broker_free(struct broker *b);

uint64_t broker_now_ms(void);
uint64_t broker_now_us(void);

/* SIGHUP: re-read the file named with -c and apply what can change without
 * dropping clients (log, limits, auth); say what needs a restart; keep the
 * running configuration if the file is invalid. */
void broker_reload(struct broker *b);
/* Load auth.password_file into *db (NULL without one). -1, logged with the
 * file and line, if it cannot be read; *db is then unchanged. */
int broker_load_passwords(struct broker *b, const struct auth_config *auth, struct passwd_db **db);
/* Load auth.acl_file into *acl (NULL without one). -1, logged with the file
 * and line, if it cannot be read; *acl is then unchanged. */
int broker_load_acl(struct broker *b, const struct auth_config *auth, struct acl **acl);
/* SIGHUP: each TLS listener re-reads its certificate, key and CA for new
 * connections; one that fails keeps what it has (logged). */
void broker_reload_tls(struct broker *b, const struct config *next);
/* Ask for enough file descriptors for limits.max_connections. */
void broker_raise_fd_limit(struct broker *b, bool announce);

#endif
