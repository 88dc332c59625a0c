#include "broker/conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/deliver.h"
#include "broker/handlers.h"
#include "broker/msg.h"
#include "broker/session.h"
#include "broker/session_mgr.h"
#include "protocol/mqtt.h"

/* Reads per readable event before other sockets get their turn. */
#define READS_PER_EVENT 16
#define IN_MIN_CAP 4096

struct conn *conn_new(struct broker *b, int fd, const char *addr)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->io.fd = fd;
    c->io.kind = IO_CONN;
    c->state = CONN_AWAIT_CONNECT;
    snprintf(c->addr, sizeof(c->addr), "%s", addr);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &c->io};
    if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        free(c);
        return NULL;
    }
    c->next = b->conns;
    if (b->conns) b->conns->prev = c;
    b->conns = c;
    b->n_conns++;
    c->last_rx_ms = b->now_ms;
    timer_schedule(&b->timers, &c->timer,
                   b->now_ms + (uint64_t)b->cfg.limits.connect_timeout * 1000);
    return c;
}

const char *conn_client_id(const struct conn *c)
{
    return c->session ? c->session->client_id : "?";
}

/* --- deadlines --- */

static uint64_t conn_deadline(const struct broker *b, const struct conn *c)
{
    if (c->state == CONN_AWAIT_CONNECT)
        return c->last_rx_ms + (uint64_t)b->cfg.limits.connect_timeout * 1000;
    if (c->keepalive == 0) return UINT64_MAX;
    return c->last_rx_ms + (uint64_t)c->keepalive * 1500; /* MQTT-3.1.2-24 */
}

void conn_touch(struct broker *b, struct conn *c)
{
    c->last_rx_ms = b->now_ms;
    uint64_t d = conn_deadline(b, c);
    if (d == UINT64_MAX)
        timer_cancel(&b->timers, &c->timer);
    else if (!timer_scheduled(&c->timer) || d < c->timer.expires_ms)
        timer_schedule(&b->timers, &c->timer, d);
    /* else: the expiry callback sees the later deadline and re-arms. */
}

void conn_on_timer(struct broker *b, struct conn *c)
{
    uint64_t d = conn_deadline(b, c);
    if (d == UINT64_MAX) return;
    if (b->now_ms < d) {
        timer_schedule(&b->timers, &c->timer, d);
        return;
    }
    if (c->state == CONN_AWAIT_CONNECT)
        conn_close(b, c, "no CONNECT within connect_timeout", false);
    else
        conn_close(b, c, "keep-alive timeout", true);
}

/* --- reading --- */

static void protocol_error(struct broker *b, struct conn *c, enum mqtt_err e)
{
    b->stats.protocol_errors++;
    if (e == MQTT_ERR_TOO_LARGE) b->stats.refused_packet_too_large++;
    log_warning(&b->log, "protocol error: client=%s addr=%s: %s", conn_client_id(c), c->addr,
                mqtt_err_str(e));
    conn_close(b, c, mqtt_err_str(e), true);
}

/* Handle every complete packet in data[0..len); returns the bytes used. */
static size_t consume(struct broker *b, struct conn *c, const uint8_t *data, size_t len)
{
    size_t off = 0;
    while (off < len && c->state != CONN_CLOSED) {
        struct mqtt_packet p;
        size_t used;
        enum mqtt_err e =
            mqtt_next(data + off, len - off, b->cfg.limits.max_packet_size, &p, &used);
        if (e == MQTT_ERR_INCOMPLETE) break;
        if (e == MQTT_OK) e = mqtt_check_inbound(c->state == CONN_ACTIVE, p.type);
        if (e == MQTT_ERR_PROTOCOL_LEVEL && c->state == CONN_AWAIT_CONNECT) {
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
        if (c->state == CONN_ACTIVE) c->last_rx_ms = b->now_ms;
        handle_packet(b, c, &p);
        off += used;
    }
    return off;
}

/* Room to read the rest of a partial packet into c->in. Grows by doubling
 * rather than straight to the announced size, so memory follows the bytes
 * that actually arrived. */
static bool reserve_in(struct broker *b, struct conn *c)
{
    size_t need = c->in_len + IN_MIN_CAP;
    size_t pkt;
    if (mqtt_frame(c->in, c->in_len, b->cfg.limits.max_packet_size, &pkt) == MQTT_OK &&
        pkt > c->in_len)
        need = pkt;
    if (need <= c->in_cap) return true;
    size_t ncap = c->in_cap ? (size_t)c->in_cap * 2 : IN_MIN_CAP;
    if (ncap > need) ncap = need;
    uint8_t *n = realloc(c->in, ncap);
    if (!n) return false;
    c->in = n;
    c->in_cap = (uint32_t)ncap;
    return true;
}

static bool keep_partial(struct conn *c, const uint8_t *data, size_t len)
{
    if (len == 0) {
        free(c->in); /* idle connections hold no read buffer */
        c->in = NULL;
        c->in_len = c->in_cap = 0;
        return true;
    }
    if (data == c->in) {
        memmove(c->in, data, len);
    } else {
        if (c->in_cap < len) {
            uint8_t *n = realloc(c->in, len < IN_MIN_CAP ? IN_MIN_CAP : len);
            if (!n) return false;
            c->in = n;
            c->in_cap = (uint32_t)(len < IN_MIN_CAP ? IN_MIN_CAP : len);
        }
        memcpy(c->in, data, len);
    }
    c->in_len = (uint32_t)len;
    return true;
}

void conn_on_readable(struct broker *b, struct conn *c)
{
    for (int i = 0; i < READS_PER_EVENT && c->state != CONN_CLOSED; i++) {
        bool direct = c->in_len == 0; /* parse straight from the shared buffer */
        if (!direct && !reserve_in(b, c)) {
            conn_close(b, c, "out of memory", true);
            return;
        }
        uint8_t *buf = direct ? b->rbuf : c->in + c->in_len;
        size_t room = direct ? b->rbuf_size : c->in_cap - c->in_len;
        ssize_t n = read(c->io.fd, buf, room);
        if (n == 0) {
            conn_close(b, c, "connection closed by peer", true);
            return;
        }
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            conn_close(b, c, strerror(errno), true);
            return;
        }
        const uint8_t *data = direct ? b->rbuf : c->in;
        size_t len = direct ? (size_t)n : c->in_len + (size_t)n;
        size_t used = consume(b, c, data, len);
        if (c->state == CONN_CLOSED) return;
        if (!keep_partial(c, data + used, len - used)) {
            conn_close(b, c, "out of memory", true);
            return;
        }
        if ((size_t)n < room) return; /* socket drained */
    }
}

/* --- writing --- */

static void mark_dirty(struct broker *b, struct conn *c)
{
    if (c->dirty) return;
    c->dirty = true;
    c->dirty_next = b->dirty;
    b->dirty = c;
}

bool conn_send(struct broker *b, struct conn *c, const void *data, size_t len)
{
    if (c->state == CONN_CLOSED) return false;
    if (outq_put_bytes(&c->out, data, len) < 0) {
        conn_close(b, c, "out of memory", true);
        return false;
    }
    mark_dirty(b, c);
    return true;
}

bool conn_send_msg(struct broker *b, struct conn *c, struct msg *m, size_t off, size_t len)
{
    if (c->state == CONN_CLOSED) return false;
    if (outq_put_msg(&c->out, m, off, len) < 0) {
        conn_close(b, c, "out of memory", true);
        return false;
    }
    mark_dirty(b, c);
    return true;
}

static void set_want_write(struct broker *b, struct conn *c, bool on)
{
    if (c->want_write == on) return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = &c->io};
    epoll_ctl(b->epfd, EPOLL_CTL_MOD, c->io.fd, &ev);
    c->want_write = on;
}

void conn_flush(struct broker *b, struct conn *c)
{
    if (c->state == CONN_CLOSED) return;
    int r = outq_flush(&c->out, c->io.fd);
    if (r < 0) {
        conn_close(b, c, strerror(errno), true);
        return;
    }
    set_want_write(b, c, r == 1);
}

void conn_on_writable(struct broker *b, struct conn *c)
{
    conn_flush(b, c);
}

/* --- closing --- */

void conn_close(struct broker *b, struct conn *c, const char *reason, bool publish_will)
{
    if (c->state == CONN_CLOSED) return;
    outq_flush(&c->out, c->io.fd); /* best effort: a refusing CONNACK must get out */
    if (c->state == CONN_ACTIVE)
        log_info(&b->log, "client disconnected: client=%s addr=%s reason=%s", conn_client_id(c),
                 c->addr, reason);
    else
        log_info(&b->log, "connection closed before CONNACK: addr=%s reason=%s", c->addr, reason);
    c->state = CONN_CLOSED;
    epoll_ctl(b->epfd, EPOLL_CTL_DEL, c->io.fd, NULL);
    close(c->io.fd);
    c->io.fd = -1;
    timer_cancel(&b->timers, &c->timer);
    outq_clear(&c->out);

    struct session *s = c->session;
    c->session = NULL;
    if (s) {
        s->conn = NULL;
        if (s->clean) session_destroy(b, s);
    }
    struct msg *will = c->will;
    c->will = NULL;
    if (will && publish_will) /* MQTT-3.1.2-8 */
        broker_queue_will(b, will, c->addr);
    msg_unref(will); /* MQTT-3.1.2-10 */

    if (c->prev)
        c->prev->next = c->next;
    else
        b->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    b->n_conns--;
    c->closed_next = b->closed;
    b->closed = c;
}

void conn_free(struct conn *c)
{
    free(c->in);
    outq_clear(&c->out);
    msg_unref(c->will);
    free(c);
}
