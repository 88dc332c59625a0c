#include "broker/net/outq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#define OUTQ_MIN_SEGS 8
#define OUTQ_MIN_DATA 1024
#define OUTQ_MAX_IOV 256

static void mem_add(struct outq *q, size_t n)
{
    q->mem += n;
    if (q->total) *q->total += n;
}

static void mem_sub(struct outq *q, size_t n)
{
    q->mem -= n;
    if (q->total) *q->total -= n;
}

static int reserve_seg(struct outq *q)
{
    if (q->tail < q->cap) return 0;
    if (q->head > 0) { /* reclaim the written prefix before growing */
        memmove(q->segs, q->segs + q->head, (q->tail - q->head) * sizeof(*q->segs));
        q->tail -= q->head;
        q->head = 0;
        if (q->tail < q->cap) return 0;
    }
    uint32_t ncap = q->cap ? q->cap * 2 : OUTQ_MIN_SEGS;
    struct out_seg *n = realloc(q->segs, ncap * sizeof(*n));
    if (!n) return -1;
    mem_add(q, (size_t)(ncap - q->cap) * sizeof(*n));
    q->segs = n;
    q->cap = ncap;
    return 0;
}

/* After a slide, a buffer mostly empty gives back memory: a client that
 * once fell behind and then drains slowly (never quite to empty, where the
 * buffer is freed) must not keep its peak capacity for ever. Best effort. */
static void shrink_data(struct outq *q, size_t want)
{
    size_t ncap = q->data_cap;
    while (ncap / 2 >= OUTQ_MIN_DATA && ncap / 2 >= want * 2)
        ncap /= 2;
    if (ncap == q->data_cap) return;
    uint8_t *n = realloc(q->data, ncap);
    if (!n) return;
    mem_sub(q, q->data_cap - ncap);
    q->data = n;
    q->data_cap = ncap;
}

/* Room for len more copied bytes: first slide out what was written (the
 * pending copied segments shift with it), then grow. */
static int reserve_data(struct outq *q, size_t len)
{
    if (q->data_len + len <= q->data_cap) return 0;
    struct out_seg *first = q->head < q->tail ? &q->segs[q->head] : NULL;
    if (first && !first->m && q->head_done) { /* small output coalesces into one */
        first->off += q->head_done;           /* long segment: drop its written part */
        first->len -= q->head_done;
        q->head_done = 0;
        q->data_head = first->off;
    }
    if (q->data_head > 0) {
        size_t shift = q->data_head;
        memmove(q->data, q->data + shift, q->data_len - shift);
        for (uint32_t i = q->head; i < q->tail; i++)
            if (!q->segs[i].m) q->segs[i].off -= (uint32_t)shift;
        q->data_len -= shift;
        q->data_head = 0;
        if (q->data_len + len <= q->data_cap) {
            shrink_data(q, q->data_len + len);
            return 0;
        }
    }
    size_t ncap = q->data_cap ? q->data_cap * 2 : OUTQ_MIN_DATA;
    while (ncap < q->data_len + len)
        ncap *= 2;
    if (ncap > UINT32_MAX) return -1;
    uint8_t *n = realloc(q->data, ncap);
    if (!n) return -1;
    mem_add(q, ncap - q->data_cap);
    q->data = n;
    q->data_cap = ncap;
    return 0;
}

uint8_t *outq_append(struct outq *q, size_t len)
{
    if (reserve_data(q, len) < 0) return NULL;
    struct out_seg *last = q->tail > q->head ? &q->segs[q->tail - 1] : NULL;
    /* Extend the last copied segment when it ends where these bytes go. */
    if (!last || last->m || last->off + last->len != q->data_len) {
        if (reserve_seg(q) < 0) return NULL;
        last = &q->segs[q->tail++];
        *last = (struct out_seg){0, (uint32_t)q->data_len, NULL};
    }
    uint8_t *at = q->data + q->data_len;
    q->data_len += len;
    last->len += (uint32_t)len;
    q->bytes += len;
    return at;
}

int outq_put_bytes(struct outq *q, const void *data, size_t len)
{
    if (len == 0) return 0;
    uint8_t *at = outq_append(q, len);
    if (!at) return -1;
    memcpy(at, data, len);
    return 0;
}

int outq_put_msg(struct outq *q, struct msg *m, size_t off, size_t len)
{
    if (len == 0) return 0;
    if (reserve_seg(q) < 0) return -1;
    q->segs[q->tail++] = (struct out_seg){(uint32_t)len, (uint32_t)off, msg_ref(m)};
    q->bytes += len;
    mem_add(q, len);
    return 0;
}

static const uint8_t *seg_base(const struct outq *q, const struct out_seg *s)
{
    return s->m ? s->m->wire + s->off : q->data + s->off;
}

/* At most max iovecs covering at most limit bytes. */
static size_t gather(const struct outq *q, struct iovec *iov, size_t max, size_t limit)
{
    size_t n = 0;
    for (uint32_t i = q->head; i < q->tail && n < max && limit > 0; i++, n++) {
        const struct out_seg *s = &q->segs[i];
        uint32_t skip = (i == q->head) ? q->head_done : 0;
        size_t len = s->len - skip;
        if (len > limit) len = limit;
        iov[n].iov_base = (void *)(seg_base(q, s) + skip);
        iov[n].iov_len = len;
        limit -= len;
    }
    return n;
}

static void advance(struct outq *q, size_t written)
{
    q->bytes -= written;
    while (written > 0) {
        struct out_seg *s = &q->segs[q->head];
        size_t left = s->len - q->head_done;
        if (written < left) {
            q->head_done += (uint32_t)written;
            return;
        }
        written -= left;
        if (s->m) {
            mem_sub(q, s->len);
            msg_unref(s->m);
        } else
            q->data_head = s->off + s->len; /* copied bytes before this are done */
        q->head++;
        q->head_done = 0;
    }
}

int outq_flush_upto(struct outq *q, struct transport *t, int fd, size_t limit)
{
    struct iovec iov[OUTQ_MAX_IOV];
    while (!outq_empty(q)) {
        if (limit == 0) return 0; /* the rest is held */
        size_t n = gather(q, iov, OUTQ_MAX_IOV, limit);
        ssize_t w = transport_writev(t, fd, iov, (int)n);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return 1;
            return -1;
        }
        advance(q, (size_t)w);
        limit -= (size_t)w;
    }
    /* Idle connections keep no buffer: most of 100k clients are idle. */
    outq_clear(q);
    return 0;
}

int outq_flush(struct outq *q, struct transport *t, int fd)
{
    return outq_flush_upto(q, t, fd, SIZE_MAX);
}

void outq_clear(struct outq *q)
{
    for (uint32_t i = q->head; i < q->tail; i++)
        msg_unref(q->segs[i].m);
    free(q->segs);
    free(q->data);
    uint64_t *total = q->total;
    if (total) *total -= q->mem;
    memset(q, 0, sizeof(*q));
    q->total = total;
}
