/* A connection's lifetime: creation, deadlines (CONNECT timeout, keep-alive,
 * slow subscriber) and closing. Reading and writing are in conn_read.c and
 * conn_write.c. */
#include "broker/net/conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/route/deliver.h"
#include "broker/handle/handlers.h"
#include "broker/route/msg.h"
#include "broker/session/session.h"
#include "broker/session/session_mgr.h"
#include "protocol/mqtt.h"

struct conn *conn_new(struct broker *b, int fd, const char *addr)
{
    return conn_new_over(b, fd, addr, transport_tcp());
}

struct conn *conn_new_over(struct broker *b, int fd, const char *addr, struct transport tr)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c) {
        transport_close(&tr, -1);
        return NULL;
    }
    c->tr = tr;
    c->handshaking = tr.ops->handshake != NULL;
    c->io.fd = fd;
    c->io.kind = IO_CONN;
    c->state = CONN_AWAIT_CONNECT;
    c->out.total = &b->out_mem_total; /* the broker-wide output budget */
    snprintf(c->addr, sizeof(c->addr), "%s", addr);
    c->events = EPOLLIN;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &c->io};
    if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        transport_close(&c->tr, -1);
        free(c);
        return NULL;
    }
    c->next = b->conns;
    if (b->conns) b->conns->prev = c;
    b->conns = c;
    b->n_conns++;
    conn_account_input(b, c); /* the transport's state, until CONNECT */
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

/* A client whose handshake or CONNECT bytes wait for the broker (a burst
 * of new TLS connections, served CONN_HANDSHAKE_US_PER_TURN at a time) has
 * done its part: connect_timeout is for silent and slow clients, not for
 * our queue, so such a connection gets connect_timeout again. No count is
 * needed: the queue drains (at least one step a turn) and its length is
 * bounded by max_unauthenticated_bytes, which every waiting connection
 * counts in. */

static bool input_waits_for_us(const struct conn *c)
{
    int unread = 0;
    if (transport_pending(&c->tr)) return true;
    return ioctl(c->io.fd, FIONREAD, &unread) == 0 && unread > 0;
}

void conn_on_timer(struct broker *b, struct conn *c)
{
    uint64_t d = conn_deadline(b, c);
    if (d == UINT64_MAX) return;
    if (b->now_ms < d) {
        timer_schedule(&b->timers, &c->timer, d);
        return;
    }
    if (c->state == CONN_AWAIT_CONNECT && input_waits_for_us(c)) {
        c->last_rx_ms = b->now_ms;
        timer_schedule(&b->timers, &c->timer, conn_deadline(b, c));
        return;
    }
    if (c->handshaking) {
        b->stats.tls_handshake_failures++;
        conn_close(b, c, "handshake not finished within connect_timeout", false);
    } else if (c->state == CONN_AWAIT_CONNECT) {
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

/* --- the transport's handshake --- */

void conn_handshake(struct broker *b, struct conn *c)
{
    if (b->handshake_us >= CONN_HANDSHAKE_US_PER_TURN) {
        b->stats.handshakes_deferred++;
        return; /* still readable or writable: reported again next turn */
    }
    uint64_t start = broker_now_us();
    enum transport_step step = transport_handshake(&c->tr, c->io.fd);
    b->handshake_us += broker_now_us() - start;
    if (step == TRANSPORT_FAILED) {
        char buf[TRANSPORT_ERR_MAX], why[TRANSPORT_ERR_MAX + 32];
        snprintf(why, sizeof why, "TLS handshake failed: %s",
                 transport_error(&c->tr, errno, buf, sizeof buf));
        b->stats.tls_handshake_failures++;
        conn_close(b, c, why, false);
        return;
    }
    c->want_write = step == TRANSPORT_WANT_WRITE;
    conn_update_events(b, c);
    if (step != TRANSPORT_DONE) return;
    c->handshaking = false;
    /* The client just answered: its CONNECT gets a connect_timeout of its
     * own, however long the broker took to get through the handshake. */
    conn_touch(b, c);
    log_debug(&b->log, "handshake done: addr=%s", c->addr);
    conn_on_readable(b, c); /* a CONNECT may already have come with the last flight */
}

/* --- closing --- */

void conn_close(struct broker *b, struct conn *c, const char *reason, bool publish_will)
{
    if (c->state == CONN_CLOSED) return;
    if (!c->handshaking) /* best effort: a refusing CONNACK must get out */
        outq_flush_upto(&c->out, &c->tr, c->io.fd, conn_hold_limit(c));
    conn_hold_drop(b, c);
    if (c->state == CONN_ACTIVE && c->qos0_dropped)
        log_info(&b->log, "client disconnected: client=%s addr=%s reason=%s qos0_dropped=%llu",
                 conn_client_id(c), c->addr, reason, (unsigned long long)c->qos0_dropped);
    else if (c->state == CONN_ACTIVE)
        log_info(&b->log, "client disconnected: client=%s addr=%s reason=%s", conn_client_id(c),
                 c->addr, reason);
    else
        log_info(&b->log, "connection closed before CONNACK: addr=%s reason=%s", c->addr, reason);
    c->state = CONN_CLOSED;
    conn_account_input(b, c);
    conn_flow_detach(b, c);
    epoll_ctl(b->epfd, EPOLL_CTL_DEL, c->io.fd, NULL);
    transport_close(&c->tr, c->io.fd);
    close(c->io.fd);
    c->io.fd = -1;
    timer_cancel(&b->timers, &c->timer);
    outq_clear(&c->out);

    struct session *s = c->session;
    c->session = NULL;
    if (s) {
        session_uncongest(b, s); /* offline sessions drop at the bound instead */
        session_offline(b, s);
    }
    struct msg *will = c->will;
    c->will = NULL;
    if (will && publish_will) /* MQTT-3.1.2-8 */
        broker_queue_will(b, will, s, c->addr);
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
    transport_close(&c->tr, -1); /* closed already unless the broker is shutting down */
    free(c->in);
    outq_clear(&c->out);
    msg_unref(c->will);
    free(c->hold); /* at shutdown: closed connections have none */
    free(c);
}
