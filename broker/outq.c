#include "broker/outq.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#define OUTQ_MIN_SEGS 8
#define OUTQ_MAX_IOV 256

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
    q->segs = n;
    q->cap = ncap;
    return 0;
}

int outq_put_bytes(struct outq *q, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        struct out_seg *last = q->tail > q->head ? &q->segs[q->tail - 1] : NULL;
        /* Fill the last inline segment first, but never one partly written. */
        if (!last || last->is_ref || last->len == OUTQ_INLINE ||
            (q->tail - 1 == q->head && q->head_done > 0)) {
            if (reserve_seg(q) < 0) return -1;
            last = &q->segs[q->tail++];
            last->len = 0;
            last->is_ref = false;
        }
        size_t n = OUTQ_INLINE - last->len;
        if (n > len) n = len;
        memcpy(last->u.bytes + last->len, p, n);
        last->len += (uint32_t)n;
        q->bytes += n;
        p += n;
        len -= n;
    }
    return 0;
}

int outq_put_msg(struct outq *q, struct msg *m, size_t off, size_t len)
{
    if (len == 0) return 0;
    if (reserve_seg(q) < 0) return -1;
    struct out_seg *s = &q->segs[q->tail++];
    s->len = (uint32_t)len;
    s->is_ref = true;
    s->u.ref.m = msg_ref(m);
    s->u.ref.off = (uint32_t)off;
    q->bytes += len;
    return 0;
}

static void release_seg(struct out_seg *s)
{
    if (s->is_ref) msg_unref(s->u.ref.m);
}

static size_t gather(const struct outq *q, struct iovec *iov, size_t max)
{
    size_t n = 0;
    for (uint32_t i = q->head; i < q->tail && n < max; i++, n++) {
        const struct out_seg *s = &q->segs[i];
        const uint8_t *base = s->is_ref ? s->u.ref.m->wire + s->u.ref.off : s->u.bytes;
        uint32_t skip = (i == q->head) ? q->head_done : 0;
        iov[n].iov_base = (void *)(base + skip);
        iov[n].iov_len = s->len - skip;
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
        release_seg(s);
        q->head++;
        q->head_done = 0;
    }
}

int outq_flush(struct outq *q, int fd)
{
    struct iovec iov[OUTQ_MAX_IOV];
    while (!outq_empty(q)) {
        size_t n = gather(q, iov, OUTQ_MAX_IOV);
        ssize_t w = writev(fd, iov, (int)n);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return 1;
            return -1;
        }
        advance(q, (size_t)w);
    }
    /* Idle connections keep no buffer: most of 100k clients are idle. */
    outq_clear(q);
    return 0;
}

void outq_clear(struct outq *q)
{
    for (uint32_t i = q->head; i < q->tail; i++)
        release_seg(&q->segs[i]);
    free(q->segs);
    memset(q, 0, sizeof(*q));
}
