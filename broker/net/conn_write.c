/* Writing to a client and flow control: output queued during the loop turn
 * and flushed once with writev; reading paused while a client's subscribers
 * or its own socket cannot keep up. */
#include "broker/net/conn.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

#include "broker/broker.h"
#include "broker/route/replay.h"

void conn_mark_dirty(struct broker *b, struct conn *c)
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
    conn_mark_dirty(b, c);
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
    conn_mark_dirty(b, c);
    return at;
}

bool conn_send_msg(struct broker *b, struct conn *c, struct msg *m, size_t off, size_t len)
{
    if (c->state == CONN_CLOSED) return false;
    if (outq_put_msg(&c->out, m, off, len) < 0) {
        conn_close(b, c, "out of memory", true);
        return false;
    }
    conn_mark_dirty(b, c);
    return true;
}

void conn_update_events(struct broker *b, struct conn *c)
{
    uint32_t events = (c->pause ? 0 : EPOLLIN) | (c->want_write ? EPOLLOUT : 0);
    if (events == c->events || c->state == CONN_CLOSED) return;
    struct epoll_event ev = {.events = events, .data.ptr = &c->io};
    epoll_ctl(b->epfd, EPOLL_CTL_MOD, c->io.fd, &ev);
    c->events = events;
}

/* A client that does not read its replies must not make us buffer them
 * without bound: past this many unsent bytes its input is not read either.
 * With the broker over its output budget, past its fair share already. */
static bool output_pause_due(struct broker *b, const struct conn *c)
{
    uint64_t q0 = b->cfg.limits.max_qos0_pending_bytes;
    if (c->out.bytes > (q0 > (1u << 20) ? q0 : (1u << 20))) return true;
    if (!broker_over_output_budget(b) || outq_mem(&c->out) <= broker_output_fair_share(b))
        return false;
    b->stats.output_pauses_total_budget++;
    return true;
}

void conn_flush(struct broker *b, struct conn *c)
{
    if (c->state == CONN_CLOSED) return;
    if (c->handshaking) return; /* nothing is queued before CONNECT anyway */
    size_t before = c->out.bytes;
    int r = outq_flush_upto(&c->out, &c->tr, c->io.fd, conn_hold_limit(c));
    if (c->hold) conn_hold_written(c, before - c->out.bytes);
    if (r < 0) {
        char buf[TRANSPORT_ERR_MAX];
        conn_close(b, c, transport_error(&c->tr, errno, buf, sizeof buf), true);
        return;
    }
    c->want_write = r == 1;
    if (r == 0 && !outq_empty(&c->out)) { /* the rest is held for a commit */
        conn_update_events(b, c);
        return;
    }
    if (r == 0 && c->session) replay_wake(b, c->session); /* drained: room for more */
    if (r == 1 && !(c->pause & CONN_PAUSE_OUTPUT) && output_pause_due(b, c))
        conn_pause(b, c, CONN_PAUSE_OUTPUT);
    else if (r == 0 && (c->pause & CONN_PAUSE_OUTPUT))
        conn_resume(b, c, CONN_PAUSE_OUTPUT);
    conn_update_events(b, c);
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
    conn_update_events(b, c);
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

void conn_link_ready(struct broker *b, struct conn *c)
{
    if (c->on_ready_list) return;
    struct conn **head = &b->backlog[b->backlog_cur];
    c->ready_prev = NULL;
    c->ready_next = *head;
    if (*head) (*head)->ready_prev = c;
    *head = c;
    c->ready_list = b->backlog_cur;
    c->on_ready_list = true;
}

void conn_unlink_ready(struct broker *b, struct conn *c)
{
    if (!c->on_ready_list) return;
    if (c->ready_prev)
        c->ready_prev->ready_next = c->ready_next;
    else
        b->backlog[c->ready_list] = c->ready_next;
    if (c->ready_next) c->ready_next->ready_prev = c->ready_prev;
    c->on_ready_list = false;
}

void conn_flow_detach(struct broker *b, struct conn *c)
{
    unlink_paused(b, c);
    conn_unlink_ready(b, c);
}

void conn_resume(struct broker *b, struct conn *c, uint8_t reason)
{
    if (c->state == CONN_CLOSED) return;
    if (reason == CONN_PAUSE_SUBSCRIBERS) unlink_paused(b, c);
    c->pause &= (uint8_t)~reason;
    conn_update_events(b, c);
    if (!c->pause && (c->in_len > 0 || transport_pending(&c->tr))) conn_link_ready(b, c);
}

void conn_on_writable(struct broker *b, struct conn *c)
{
    if (c->handshaking)
        conn_handshake(b, c);
    else
        conn_flush(b, c);
}
