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
    c->events = EPOLLIN;
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

static uint64_t keepalive_deadline(const struct broker *b, const struct conn *c)
{
    if (c->state == CONN_AWAIT_CONNECT)
        return c->last_rx_ms + (uint64_t)b->cfg.limits.connect_timeout * 1000;
    if (c->keepalive == 0) return UINT64_MAX;
    return c->last_rx_ms + (uint64_t)c->keepalive * 1500; /* MQTT-3.1.2-24 */
}

static uint64_t congestion_deadline(const struct broker *b, const struct conn *c)
{
    if (!c->session || !c->session->congested) return UINT64_MAX;
    return c->session->congested_since_ms + (uint64_t)b->cfg.limits.slow_subscriber_timeout * 1000;
}

static uint64_t conn_deadline(const struct broker *b, const struct conn *c)
{
    uint64_t k = keepalive_deadline(b, c), s = congestion_deadline(b, c);
    return k < s ? k : s;
}

void conn_rearm(struct broker *b, struct conn *c)
{
    uint64_t d = conn_deadline(b, c);
    if (d != UINT64_MAX && (!timer_scheduled(&c->timer) || d < c->timer.expires_ms))
        timer_schedule(&b->timers, &c->timer, d);
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
    if (c->state == CONN_AWAIT_CONNECT) {
        conn_close(b, c, "no CONNECT within connect_timeout", false);
    } else if (b->now_ms >= congestion_deadline(b, c)) {
        b->stats.slow_subscriber_drops++;
        log_warning(&b->log, "slow subscriber: client=%s queue full for %u s, disconnecting",
                    conn_client_id(c), b->cfg.limits.slow_subscriber_timeout);
        conn_close(b, c, "slow subscriber (limits.slow_subscriber_timeout)", true);
    } else {
        conn_close(b, c, "keep-alive timeout", true);
    }
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
    while (off < len && c->state != CONN_CLOSED && !c->pause) {
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
    if (c->in && data >= c->in && data < c->in + c->in_cap) {
        memmove(c->in, data, len); /* the tail of our own buffer */
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
    for (int i = 0; i < READS_PER_EVENT && c->state != CONN_CLOSED && !c->pause; i++) {
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

uint8_t *conn_send_space(struct broker *b, struct conn *c, size_t len)
{
    if (c->state == CONN_CLOSED) return NULL;
    uint8_t *at = outq_append(&c->out, len);
    if (!at) {
        conn_close(b, c, "out of memory", true);
        return NULL;
    }
    mark_dirty(b, c);
    return at;
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

static void update_events(struct broker *b, struct conn *c)
{
    uint32_t events = (c->pause ? 0 : EPOLLIN) | (c->want_write ? EPOLLOUT : 0);
    if (events == c->events || c->state == CONN_CLOSED) return;
    struct epoll_event ev = {.events = events, .data.ptr = &c->io};
    epoll_ctl(b->epfd, EPOLL_CTL_MOD, c->io.fd, &ev);
    c->events = events;
}

/* A client that does not read its replies must not make us buffer them
 * without bound: past this many unsent bytes its input is not read either. */
static uint64_t output_pause_bytes(const struct broker *b)
{
    uint64_t q0 = b->cfg.limits.max_qos0_pending_bytes;
    return q0 > (1u << 20) ? q0 : (1u << 20);
}

void conn_flush(struct broker *b, struct conn *c)
{
    if (c->state == CONN_CLOSED) return;
    int r = outq_flush(&c->out, c->io.fd);
    if (r < 0) {
        conn_close(b, c, strerror(errno), true);
        return;
    }
    c->want_write = r == 1;
    if (r == 1 && c->out.bytes > output_pause_bytes(b))
        conn_pause(b, c, CONN_PAUSE_OUTPUT);
    else if (r == 0 && (c->pause & CONN_PAUSE_OUTPUT))
        conn_resume(b, c, CONN_PAUSE_OUTPUT);
    update_events(b, c);
}

/* --- flow control --- */

void conn_pause(struct broker *b, struct conn *c, uint8_t reason)
{
    if (c->state == CONN_CLOSED) return;
    if (reason == CONN_PAUSE_SUBSCRIBERS && !c->on_paused_list) {
        c->paused_prev = NULL;
        c->paused_next = b->paused;
        if (b->paused) b->paused->paused_prev = c;
        b->paused = c;
        c->on_paused_list = true;
        b->stats.backpressure_pauses++;
    }
    c->pause |= reason;
    update_events(b, c);
}

static void unlink_paused(struct broker *b, struct conn *c)
{
    if (!c->on_paused_list) return;
    if (c->paused_prev)
        c->paused_prev->paused_next = c->paused_next;
    else
        b->paused = c->paused_next;
    if (c->paused_next) c->paused_next->paused_prev = c->paused_prev;
    c->on_paused_list = false;
}

static void unlink_ready(struct broker *b, struct conn *c)
{
    if (!c->on_ready_list) return;
    if (c->ready_prev)
        c->ready_prev->ready_next = c->ready_next;
    else
        b->ready = c->ready_next;
    if (c->ready_next) c->ready_next->ready_prev = c->ready_prev;
    c->on_ready_list = false;
}

void conn_resume(struct broker *b, struct conn *c, uint8_t reason)
{
    if (c->state == CONN_CLOSED) return;
    if (reason == CONN_PAUSE_SUBSCRIBERS) unlink_paused(b, c);
    c->pause &= (uint8_t)~reason;
    update_events(b, c);
    if (!c->pause && c->in_len > 0 && !c->on_ready_list) {
        c->ready_prev = NULL;
        c->ready_next = b->ready;
        if (b->ready) b->ready->ready_prev = c;
        b->ready = c;
        c->on_ready_list = true;
    }
}

void conn_process_buffered(struct broker *b, struct conn *c)
{
    unlink_ready(b, c);
    if (c->state == CONN_CLOSED || c->pause || c->in_len == 0) return;
    size_t used = consume(b, c, c->in, c->in_len);
    if (c->state == CONN_CLOSED) return;
    if (!keep_partial(c, c->in + used, c->in_len - used)) conn_close(b, c, "out of memory", true);
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
    unlink_paused(b, c);
    unlink_ready(b, c);
    epoll_ctl(b->epfd, EPOLL_CTL_DEL, c->io.fd, NULL);
    close(c->io.fd);
    c->io.fd = -1;
    timer_cancel(&b->timers, &c->timer);
    outq_clear(&c->out);

    struct session *s = c->session;
    c->session = NULL;
    if (s) {
        s->conn = NULL;
        session_uncongest(b, s); /* offline sessions drop at the bound instead */
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
