/* Reading from a client: a few reads per loop turn into the shared buffer,
 * packets parsed in place, at most CONN_PACKETS_PER_TURN handled per turn,
 * and what is left (the tail of an incomplete packet, or packets over the
 * budget) kept in the connection. Input held before CONNECT is bounded per
 * connection (max_connect_size) and in total (max_unauthenticated_bytes). */
#include "broker/net/conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/handle/handlers.h"
#include "protocol/mqtt.h"

#define IN_MIN_CAP 4096

void conn_account_input(struct broker *b, struct conn *c)
{
    uint32_t held = c->state == CONN_CLOSED ? 0 : c->in_cap;
    bool unauth = c->state == CONN_AWAIT_CONNECT;
    b->in_bytes_total = b->in_bytes_total - c->in_counted + held;
    /* A client not yet known also holds its transport's state: a flood of
     * TLS handshakes is bounded like one of partial CONNECTs. */
    if (c->in_counted_unauth) b->unauth_in_bytes -= c->in_counted + c->tr.mem;
    if (unauth) b->unauth_in_bytes += held + c->tr.mem;
    c->in_counted = held;
    c->in_counted_unauth = unauth;
}

/* Growing c's input buffer by grow bytes would pass a broker-wide budget:
 * the one of clients without CONNECT, or the one of all clients (partial
 * packets of up to max_packet_size each, which many clients streaming
 * slowly could otherwise multiply). Its name, or NULL. */
static const char *input_budget_hit(const struct broker *b, const struct conn *c, size_t grow)
{
    uint64_t unauth = b->cfg.limits.max_unauthenticated_bytes;
    uint64_t total = b->cfg.limits.max_input_bytes_total;
    if (c->state == CONN_AWAIT_CONNECT && unauth && b->unauth_in_bytes + grow > unauth)
        return "limits.max_unauthenticated_bytes";
    if (total && b->in_bytes_total + grow > total) return "limits.max_input_bytes_total";
    return NULL;
}

/* Before CONNECT is complete nothing is known about the client: its first
 * packet may only be as large as a CONNECT needs to be. */
static size_t packet_limit(const struct broker *b, const struct conn *c)
{
    uint32_t max = b->cfg.limits.max_packet_size;
    if (c->state == CONN_AWAIT_CONNECT && b->cfg.limits.max_connect_size < max)
        max = b->cfg.limits.max_connect_size;
    return max;
}

static void protocol_error(struct broker *b, struct conn *c, enum mqtt_err e)
{
    b->stats.protocol_errors++;
    if (e == MQTT_ERR_TOO_LARGE && c->state == CONN_AWAIT_CONNECT) {
        b->stats.refused_connect_too_large++;
        log_warning(&b->log,
                    "connection refused: addr=%s: first packet over %zu bytes "
                    "(limits.max_connect_size)",
                    c->addr, packet_limit(b, c));
        conn_close(b, c, "first packet larger than limits.max_connect_size", false);
        return;
    }
    if (e == MQTT_ERR_TOO_LARGE) b->stats.refused_packet_too_large++;
    log_warning(&b->log, "protocol error: client=%s addr=%s: %s", conn_client_id(c), c->addr,
                mqtt_err_str(e));
    conn_close(b, c, mqtt_err_str(e), true);
}

/* What is left of one connection's work for this turn. */
struct turn_budget {
    unsigned packets;
    uint64_t work_end; /* b->route_work at which the deliveries are used up */
};

static struct turn_budget turn_budget(const struct broker *b)
{
    return (struct turn_budget){CONN_PACKETS_PER_TURN, b->route_work + CONN_DELIVERIES_PER_TURN};
}

/* Handle complete packets in data[0..len) within the budget; returns the
 * bytes used. *over: stopped by the budget, not for want of bytes. */
static size_t consume(struct broker *b, struct conn *c, const uint8_t *data, size_t len,
                      struct turn_budget *tb, bool *over)
{
    size_t off = 0;
    *over = false;
    for (; off < len && c->state != CONN_CLOSED && !c->pause; tb->packets--) {
        if (tb->packets == 0 || b->route_work >= tb->work_end) {
            *over = true;
            break;
        }
        struct mqtt_packet p;
        size_t used;
        bool awaiting = c->state == CONN_AWAIT_CONNECT;
        /* 0 before CONNECT: 3.1.1's rules; handle_connect sets the level,
         * so packets pipelined behind a 3.1 CONNECT get 3.1's. */
        enum mqtt_err e = mqtt_next_level(data + off, len - off, packet_limit(b, c),
                                          c->protocol_level, &p, &used);
        if (e == MQTT_ERR_INCOMPLETE) break;
        if (e == MQTT_OK) e = mqtt_check_inbound(!awaiting, p.type);
        if (e == MQTT_ERR_PROTOCOL_LEVEL && awaiting) {
            /* MQTT-3.1.2-2: a version we do not speak gets CONNACK 0x01. */
            static const uint8_t refuse[] = {0x20, 0x02, 0x00, MQTT_CONNACK_BAD_PROTOCOL_VERSION};
            conn_send(b, c, refuse, sizeof(refuse));
            log_info(&b->log, "connection refused: addr=%s: unsupported protocol level", c->addr);
            conn_close(b, c, "unsupported protocol level", false);
            break;
        }
        if (e != MQTT_OK) {
            protocol_error(b, c, e);
            break;
        }
        if (!awaiting) c->last_rx_ms = b->now_ms;
        handle_packet(b, c, &p);
        if (awaiting) conn_account_input(b, c); /* connected: no longer counted */
        off += used;
    }
    return off;
}

/* Resize c->in to ncap bytes; growth stays within the broker-wide input
 * budgets. False: c was closed. */
static bool resize_in(struct broker *b, struct conn *c, size_t ncap)
{
    const char *hit = ncap > c->in_cap ? input_budget_hit(b, c, ncap - c->in_cap) : NULL;
    if (hit) {
        bool unauth = c->state == CONN_AWAIT_CONNECT;
        if (unauth)
            b->stats.refused_unauthenticated_bytes++;
        else
            b->stats.refused_input_bytes++;
        log_warning(&b->log,
                    "connection closed: client=%s addr=%s: partial packets of %s clients hold "
                    "%llu bytes (%s)",
                    conn_client_id(c), c->addr, unauth ? "not yet connected" : "all",
                    (unsigned long long)(unauth ? b->unauth_in_bytes : b->in_bytes_total), hit);
        conn_close(b, c,
                   unauth ? "limits.max_unauthenticated_bytes reached"
                          : "limits.max_input_bytes_total reached",
                   !unauth);
        return false;
    }
    uint8_t *n = realloc(c->in, ncap);
    if (!n) {
        conn_close(b, c, "out of memory", true);
        return false;
    }
    c->in = n;
    c->in_cap = (uint32_t)ncap;
    conn_account_input(b, c);
    return true;
}

/* Room to read the rest of a partial packet into c->in. Grows by doubling
 * rather than straight to the announced size, so memory follows the bytes
 * that actually arrived. False: c was closed. */
static bool reserve_in(struct broker *b, struct conn *c)
{
    size_t need = c->in_len + IN_MIN_CAP;
    size_t pkt;
    if (mqtt_frame(c->in, c->in_len, packet_limit(b, c), &pkt) == MQTT_OK && pkt > c->in_len)
        need = pkt;
    if (need <= c->in_cap) return true;
    size_t ncap = c->in_cap ? (size_t)c->in_cap * 2 : IN_MIN_CAP;
    if (ncap > need) ncap = need;
    return resize_in(b, c, ncap);
}

/* Keep data[0..len) in c->in for the next read or turn. False: closed. */
static bool keep_partial(struct broker *b, struct conn *c, const uint8_t *data, size_t len)
{
    if (len == 0) {
        free(c->in); /* idle connections hold no read buffer */
        c->in = NULL;
        c->in_len = c->in_cap = 0;
        conn_account_input(b, c);
        return true;
    }
    if (c->in && data >= c->in && data < c->in + c->in_cap) {
        if (data != c->in) memmove(c->in, data, len); /* the tail of our own buffer */
    } else {
        if (c->in_cap < len && !resize_in(b, c, len < IN_MIN_CAP ? IN_MIN_CAP : len)) return false;
        memcpy(c->in, data, len);
    }
    c->in_len = (uint32_t)len;
    return true;
}

/* False once the budget is used (c is then on the backlog list) or c
 * closed or paused: no more reading this turn. */
static bool handle_input(struct broker *b, struct conn *c, const uint8_t *data, size_t len,
                         struct turn_budget *tb)
{
    bool over;
    size_t used = consume(b, c, data, len, tb, &over);
    if (c->state == CONN_CLOSED || !keep_partial(b, c, data + used, len - used)) return false;
    if (over) { /* the rest is handled next turn, after every other client */
        b->stats.backlog_turns++;
        conn_link_ready(b, c);
        return false;
    }
    return !c->pause;
}

/* One read and what it brings. False when no more should be read this turn:
 * the socket is drained, closed, or the budget or a pause stops it. */
static bool read_once(struct broker *b, struct conn *c, struct turn_budget *tb)
{
    bool direct = c->in_len == 0; /* parse straight from the shared buffer */
    if (!direct && !reserve_in(b, c)) return false;
    uint8_t *buf = direct ? b->rbuf : c->in + c->in_len;
    size_t room = direct ? b->rbuf_size : c->in_cap - c->in_len;
    if (room > b->rbuf_size) room = b->rbuf_size;
    ssize_t n = transport_read(&c->tr, c->io.fd, buf, room);
    if (n == 0) {
        conn_close(b, c, "connection closed by peer", true);
        return false;
    }
    if (n < 0) {
        char why[TRANSPORT_ERR_MAX];
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            conn_close(b, c, transport_error(&c->tr, errno, why, sizeof why), true);
        return false;
    }
    bool more;
    if (direct) {
        more = handle_input(b, c, b->rbuf, (size_t)n, tb);
    } else {
        c->in_len += (uint32_t)n;
        more = handle_input(b, c, c->in, c->in_len, tb);
    }
    return more && (size_t)n == room; /* a short read: the socket is drained */
}

/* Reads within the budget. Input the transport took from the socket and
 * still holds (TLS records read but not yet returned) is invisible to
 * epoll: such a connection goes on the backlog, to be read next turn. */
static void read_some(struct broker *b, struct conn *c, struct turn_budget *tb)
{
    for (int i = 0; i < CONN_READS_PER_TURN && read_once(b, c, tb); i++)
        ;
    if (c->state != CONN_CLOSED && !c->pause && !c->on_ready_list && transport_pending(&c->tr))
        conn_link_ready(b, c);
}

void conn_on_readable(struct broker *b, struct conn *c)
{
    if (c->handshaking && c->state != CONN_CLOSED) {
        conn_handshake(b, c);
        return;
    }
    /* With input left over, the socket waits: epoll is level-triggered, so
     * it reports the socket again once the backlog is handled. */
    if (c->on_ready_list || c->pause || c->state == CONN_CLOSED) return;
    struct turn_budget tb = turn_budget(b);
    read_some(b, c, &tb);
}

void conn_process_buffered(struct broker *b, struct conn *c)
{
    conn_unlink_ready(b, c);
    if (c->state == CONN_CLOSED || c->pause) return;
    struct turn_budget tb = turn_budget(b);
    if (c->in_len > 0 && !handle_input(b, c, c->in, c->in_len, &tb)) return;
    if (transport_pending(&c->tr)) read_some(b, c, &tb);
}
