/* One client connection: its socket and transport (TCP or TLS), the
 * partial packet carried between reads, its output queue, keep-alive
 * deadline, will, and the session it is attached to after CONNECT. conn.c
 * owns the I/O: the transport's handshake, reading and framing packets,
 * queueing bytes for the end-of-turn flush, and closing. */
#ifndef STARLING_BROKER_CONN_H
#define STARLING_BROKER_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/net/io.h"
#include "broker/net/outq.h"
#include "broker/net/transport.h"
#include "broker/timer.h"

struct broker;
struct session;
struct msg;
struct conn_hold;

enum conn_state {
    CONN_AWAIT_CONNECT, /* accepted, no CONNECT yet */
    CONN_ACTIVE,        /* CONNACK 0 sent */
    CONN_CLOSED,        /* socket closed, freed at the end of the loop turn */
};

struct conn {
    struct io io; /* first member: epoll hands back a struct io * */
    enum conn_state state;
    bool handshaking;         /* the transport's handshake is not done: no MQTT yet */
    bool dirty;               /* on the broker's flush list */
    bool want_write;          /* output waits for the socket: EPOLLOUT wanted */
    uint8_t pause;            /* CONN_PAUSE_* reasons reading is stopped; 0 = reading */
    uint32_t events;          /* epoll events currently registered */
    uint16_t keepalive;       /* seconds, 0 = none */
    uint8_t protocol_level;   /* its CONNECT's (MQTT_LEVEL_*): input is decoded by its rules */
    struct conn *prev, *next; /* all connections */
    struct conn *dirty_next;
    struct conn *closed_next;
    /* Doubly linked so that closing a connection unlinks it in O(1). */
    struct conn *paused_prev, *paused_next; /* held back by congested subscribers */
    struct conn *ready_prev, *ready_next;   /* on b->backlog[ready_list] */
    bool on_paused_list, on_ready_list;
    uint8_t ready_list;
    struct session *session;
    struct msg *will; /* with its QoS and retain flag */
    uint8_t *in;      /* bytes of an incomplete packet kept between reads */
    uint32_t in_len, in_cap;
    /* Of in_cap, what is counted in b->in_bytes_total, and also in
     * b->unauth_in_bytes while in_counted_unauth, with tr.mem. */
    uint32_t in_counted;
    bool in_counted_unauth;
    struct outq out;
    /* Output held for a commit (persistence durable, conn_hold.c), while
     * there is any; NULL otherwise, so other connections pay a pointer. */
    struct conn_hold *hold;
    struct transport tr; /* every byte in and out goes through it */
    struct timer_node timer;
    uint64_t last_rx_ms;
    uint64_t qos0_dropped;
    char addr[56]; /* "ip:port" of the peer, for logs */
};

/* The work one connection gets per loop turn: up to CONN_READS_PER_TURN
 * reads of 64 KiB, and of what they bring at most CONN_PACKETS_PER_TURN
 * packets routing at most CONN_DELIVERIES_PER_TURN deliveries (one PUBLISH
 * to a topic with 10,000 subscribers is 10,000 of them). Large enough that
 * a busy publisher's messages leave in big writes (fewer turns, fewer
 * syscalls), small enough that one connection holds the loop for about a
 * millisecond, whatever it sends. */
#define CONN_READS_PER_TURN 8
#define CONN_PACKETS_PER_TURN 8192
#define CONN_DELIVERIES_PER_TURN 32768
/* TLS handshake time per loop turn, all connections together: steps run
 * until this much is used (at least one). A full handshake costs about
 * 4 ms of CPU in mbedtls 2.28, in two steps (key exchange and signature,
 * then the shared secret), a resumed one about 0.15 ms: a burst of new
 * TLS clients is served a step or two per turn, between everyone else's
 * packets, instead of holding them all for the whole burst, while cheap
 * resumptions still go many to a turn. Deferred sockets stay readable,
 * so epoll reports them again next turn. */
#define CONN_HANDSHAKE_US_PER_TURN 2000

/* Why reading from a client is stopped (flow control through TCP). */
/* It published to a subscriber at its queue bound, or added changes while
 * the store is behind (persistence.max_pending_bytes). */
#define CONN_PAUSE_SUBSCRIBERS 1
#define CONN_PAUSE_OUTPUT 2 /* it does not read what we send it */

/* Take ownership of an accepted, non-blocking socket, speaking plain TCP.
 * NULL on OOM. */
struct conn *conn_new(struct broker *b, int fd, const char *addr);
/* The same over transport tr, which the connection then owns (also on
 * failure: NULL, tr closed). A transport with a handshake starts it when the
 * socket is first readable; limits.connect_timeout covers it. */
struct conn *conn_new_over(struct broker *b, int fd, const char *addr, struct transport tr);

/* The socket is readable: reads of at most the shared buffer's size, and
 * complete packets handed to the protocol handler, within the turn's budget
 * above; what is left waits on the backlog list for the
 * next turn, and the socket is not read until it is handled. Closes the
 * connection on EOF, socket error or a malformed packet. */
void conn_on_readable(struct broker *b, struct conn *c);
void conn_on_writable(struct broker *b, struct conn *c);
/* One step of the transport's handshake (from either of the two above). */
void conn_handshake(struct broker *b, struct conn *c);
/* Register the epoll events c's state wants (reading unless paused,
 * writing while output or a handshake waits for the socket). */
void conn_update_events(struct broker *b, struct conn *c);

/* Queue bytes / a msg range for this turn's writev. False if the connection
 * is closed or out of memory (it is then closed). */
bool conn_send(struct broker *b, struct conn *c, const void *data, size_t len);
bool conn_send_msg(struct broker *b, struct conn *c, struct msg *m, size_t off, size_t len);
/* Room for len bytes of output to be written in place; NULL if the
 * connection is closed or out of memory (it is then closed). */
uint8_t *conn_send_space(struct broker *b, struct conn *c, size_t len);

/* Write what is queued. Called once per loop turn for dirty connections. */
void conn_flush(struct broker *b, struct conn *c);
/* Put c on this turn's flush list. */
void conn_mark_dirty(struct broker *b, struct conn *c);

/* What c is sent from here on (an acknowledgement, a QoS 2 delivery)
 * leaves only once the changes recorded so far are committed (persistence
 * durable, persist.h). False if c is closed or out of memory (then closed). */
bool conn_after_commit(struct broker *b, struct conn *c);
/* Bytes of c's output that may be written now. */
size_t conn_hold_limit(const struct conn *c);
/* n bytes of c's output were written. */
void conn_hold_written(struct conn *c, size_t n);
/* Batches up to done committed: release what they held. */
void conn_hold_release(struct broker *b, uint32_t done);
/* c is closing: forget its holds. */
void conn_hold_drop(struct broker *b, struct conn *c);

/* Close: flush what can be flushed (a refusing CONNACK must reach the
 * client), detach from the session, publish the will if publish_will, log
 * the reason. Idempotent; the memory is freed at the end of the turn. */
void conn_close(struct broker *b, struct conn *c, const char *reason, bool publish_will);
void conn_free(struct conn *c);

/* Client id for logs ("?" before CONNECT). */
const char *conn_client_id(const struct conn *c);

/* Re-arm the keep-alive / connect deadline after activity. */
void conn_touch(struct broker *b, struct conn *c);
/* Make sure the timer fires no later than the connection's earliest deadline
 * (e.g. after its session became congested). */
void conn_rearm(struct broker *b, struct conn *c);

/* Stop reading from c for a reason; CONN_PAUSE_SUBSCRIBERS puts it on the
 * broker's paused list, woken when a congested subscriber drains. */
void conn_pause(struct broker *b, struct conn *c, uint8_t reason);
/* Clear a reason; when none is left, reading resumes and input already
 * buffered is handled at the end of the loop turn. */
void conn_resume(struct broker *b, struct conn *c, uint8_t reason);
/* Handle one turn's share of the input left in c->in (paused, or over
 * the per-turn budget); the rest goes back on the backlog. */
void conn_process_buffered(struct broker *b, struct conn *c);
/* Put c on the backlog for the next turn / take it off. */
void conn_link_ready(struct broker *b, struct conn *c);
void conn_unlink_ready(struct broker *b, struct conn *c);
/* Take c off the paused and ready lists: it is closing. */
void conn_flow_detach(struct broker *b, struct conn *c);
/* Bring b->in_bytes_total and b->unauth_in_bytes up to date with c's input
 * buffer and state. */
void conn_account_input(struct broker *b, struct conn *c);
/* Timer expiry: close on a missed deadline, else re-arm. */
void conn_on_timer(struct broker *b, struct conn *c);

#endif
