/* Output held back until the store has committed what it depends on
 * (persistence durable): an ack must not reach a client before the change
 * it acknowledges is on disk, and a QoS 2 delivery (or PUBREL) must not
 * leave before the state that produced it, or a crash could make it arrive
 * twice. QoS 0 and 1 deliveries need not wait (a QoS 1 message whose
 * publisher was not acknowledged is sent again by it: a duplicate, which
 * QoS 1 allows), unless they queue behind held output, as everything
 * queued on a connection leaves in order.
 * A connection records where its held output begins (a position in the
 * bytes it ever queued) and which batch releases it; conn_flush writes up
 * to there. Batches commit in order, so at most two are pending per
 * connection: the one committing and the one filling. */
#include "broker/net/conn.h"

#include <stdlib.h>

#include "broker/broker.h"
#include "broker/store/persist.h"

static bool batch_done(uint32_t no, uint32_t done)
{
    return (int32_t)(done - no) >= 0; /* batch numbers wrap */
}

static bool track(struct broker *b, struct conn *c)
{
    if (b->n_held == b->cap_held) {
        size_t ncap = b->cap_held ? b->cap_held * 2 : 64;
        struct conn **n = realloc(b->held, ncap * sizeof(*n));
        if (!n) return false;
        b->held = n;
        b->cap_held = ncap;
    }
    c->held_idx = (uint32_t)b->n_held;
    b->held[b->n_held++] = c;
    return true;
}

static void untrack(struct broker *b, struct conn *c)
{
    struct conn *last = b->held[--b->n_held];
    b->held[c->held_idx] = last;
    last->held_idx = c->held_idx;
}

static bool hold_mark(struct broker *b, struct conn *c)
{
    if (!persist_holding(b)) return true;
    uint32_t no = persist_open_batch(b);
    if (c->n_hold && c->hold_no[c->n_hold - 1] == no) return true;
    if (c->n_hold == 2) { /* not expected; holding longer is always safe */
        c->hold_no[1] = no;
        return true;
    }
    if (c->n_hold == 0 && !track(b, c)) return false;
    c->hold_pos[c->n_hold] = c->out_written + c->out.bytes;
    c->hold_no[c->n_hold] = no;
    c->n_hold++;
    return true;
}

bool conn_after_commit(struct broker *b, struct conn *c)
{
    if (c->state == CONN_CLOSED) return false;
    if (!b->persist || hold_mark(b, c)) return true;
    conn_close(b, c, "out of memory", true);
    return false;
}

size_t conn_hold_limit(const struct conn *c)
{
    return c->n_hold ? (size_t)(c->hold_pos[0] - c->out_written) : SIZE_MAX;
}

void conn_hold_release(struct broker *b, uint32_t done)
{
    for (size_t i = 0; i < b->n_held;) {
        struct conn *c = b->held[i];
        uint8_t k = 0;
        while (k < c->n_hold && batch_done(c->hold_no[k], done))
            k++;
        if (k == 0) {
            i++;
            continue;
        }
        if (k == 1 && c->n_hold == 2) {
            c->hold_pos[0] = c->hold_pos[1];
            c->hold_no[0] = c->hold_no[1];
        }
        c->n_hold = (uint8_t)(c->n_hold - k);
        conn_mark_dirty(b, c);
        if (c->n_hold == 0)
            untrack(b, c); /* the last entry moved to i: look at it next */
        else
            i++;
    }
}

void conn_hold_drop(struct broker *b, struct conn *c)
{
    if (!c->n_hold) return;
    untrack(b, c);
    c->n_hold = 0;
}
