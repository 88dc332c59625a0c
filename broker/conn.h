/* One client connection: its socket, the partial packet carried between
 * reads, its output queue, keep-alive deadline, will, and the session it is
 * attached to after CONNECT. conn.c owns the socket I/O: reading and framing
 * packets, queueing bytes for the end-of-turn writev, and closing. */
#ifndef STARLING_BROKER_CONN_H
#define STARLING_BROKER_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/io.h"
#include "broker/outq.h"
#include "broker/timer.h"

struct broker;
struct session;
struct msg;

enum conn_state {
    CONN_AWAIT_CONNECT, /* accepted, no CONNECT yet */
    CONN_ACTIVE,        /* CONNACK 0 sent */
    CONN_CLOSED,        /* socket closed, freed at the end of the loop turn */
};

struct conn {
    struct io io; /* first member: epoll hands back a struct io * */
    enum conn_state state;
    bool dirty;      /* on the broker's flush list */
    bool want_write; /* EPOLLOUT registered */
    uint8_t protocol_level;
    uint16_t keepalive;       /* seconds, 0 = none */
    struct conn *prev, *next; /* all connections */
    struct conn *dirty_next;
    struct conn *closed_next;
    struct session *session;
    struct msg *will; /* with its QoS and retain flag */
    uint8_t *in;      /* bytes of an incomplete packet kept between reads */
    uint32_t in_len, in_cap;
    struct outq out;
    struct timer_node timer;
    uint64_t last_rx_ms;
    uint64_t qos0_dropped;
    char addr[56]; /* "ip:port" of the peer, for logs */
};

/* Take ownership of an accepted, non-blocking socket. NULL on OOM. */
struct conn *conn_new(struct broker *b, int fd, const char *addr);

/* The socket is readable: read, frame and hand every complete packet to the
 * protocol handler. Closes the connection on EOF, socket error or a
 * malformed packet. */
void conn_on_readable(struct broker *b, struct conn *c);
void conn_on_writable(struct broker *b, struct conn *c);

/* Queue bytes / a msg range for this turn's writev. False if the connection
 * is closed or out of memory (it is then closed). */
bool conn_send(struct broker *b, struct conn *c, const void *data, size_t len);
bool conn_send_msg(struct broker *b, struct conn *c, struct msg *m, size_t off, size_t len);

/* Write what is queued. Called once per loop turn for dirty connections. */
void conn_flush(struct broker *b, struct conn *c);

/* Close: flush what can be flushed (a refusing CONNACK must reach the
 * client), detach from the session, publish the will if publish_will, log
 * the reason. Idempotent; the memory is freed at the end of the turn. */
void conn_close(struct broker *b, struct conn *c, const char *reason, bool publish_will);
void conn_free(struct conn *c);

/* Client id for logs ("?" before CONNECT). */
const char *conn_client_id(const struct conn *c);

/* Re-arm the keep-alive / connect deadline after activity. */
void conn_touch(struct broker *b, struct conn *c);
/* Timer expiry: close on a missed deadline, else re-arm. */
void conn_on_timer(struct broker *b, struct conn *c);

#endif
