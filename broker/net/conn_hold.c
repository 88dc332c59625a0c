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

/* Bytes from position pos[0] on wait for batch no[0], from pos[1] on for
 * no[1]. Positions count the bytes queued since the hold began, written
 * of them written. */
struct conn_hold {
    uint64_t written;
    uint64_t pos[2];
    uint32_t no[2];
    uint32_t idx; /* in b->held */
    uint8_t n;
};

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
    if (!(c->hold = calloc(1, sizeof(*c->hold)))) return false;
    c->hold->idx = (uint32_t)b->n_held;
    b->held[b->n_held++] = c;
    return true;
}

static void untrack(struct broker *b, struct conn *c)
{
    struct conn *last = b->held[--b->n_held];
    b->held[c->hold->idx] = last;
    last->hold->idx = c->hold->idx;
    free(c->hold);
    c->hold = NULL;
}

static bool hold_mark(struct broker *b, struct conn *c)
{
    if (!persist_holding(b)) return true;
    uint32_t no = persist_open_batch(b);
    if (!c->hold && !track(b, c)) return false;
    struct conn_hold *h = c->hold;
    if (h->n && h->no[h->n - 1] == no) return true;
    if (h->n == 2) { /* not expected; holding longer is always safe */
        h->no[1] = no;
        return true;
    }
    h->pos[h->n] = h->written + c->out.bytes;
    h->no[h->n] = no;
    h->n++;
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
    return c->hold ? (size_t)(c->hold->pos[0] - c->hold->written) : SIZE_MAX;
}

void conn_hold_written(struct conn *c, size_t n)
{
    c->hold->written += n;
}

void conn_hold_release(struct broker *b, uint32_t done)
{
    for (size_t i = 0; i < b->n_held;) {
        struct conn *c = b->held[i];
        struct conn_hold *h = c->hold;
        uint8_t k = 0;
        while (k < h->n && batch_done(h->no[k], done))
            k++;
        if (k == 0) {
            i++;
            continue;
        }
        if (k == 1 && h->n == 2) {
            h->pos[0] = h->pos[1];
            h->no[0] = h->no[1];
        }
        h->n = (uint8_t)(h->n - k);
        conn_mark_dirty(b, c);
        if (h->n == 0)
            untrack(b, c); /* the last entry moved to i: look at it next */
        else
            i++;
    }
}

void conn_hold_drop(struct broker *b, struct conn *c)
{
    if (c->hold) untrack(b, c);
}
