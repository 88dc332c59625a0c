/* A connection's output queue: packets waiting to be written. Small data
 * (headers, acks, and whole small PUBLISH packets) is copied into one
 * contiguous byte buffer, so a burst of small messages leaves in a single
 * iovec; large payloads are referenced from their shared, reference-counted
 * msg and never copied per subscriber. Flushed through the connection's
 * transport (writev on TCP). The memory a
 * queue holds is kept in q->mem and, if q->total is set, in a counter its
 * owner shares among all queues (the broker's output budget). */
#ifndef STARLING_BROKER_OUTQ_H
#define STARLING_BROKER_OUTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/net/transport.h"
#include "broker/route/msg.h"

/* Payloads up to this size are copied rather than referenced: a memcpy of a
 * few hundred bytes costs less than an iovec entry and a reference count. */
#define OUTQ_COPY_MAX 512

struct out_seg {
    uint32_t len;
    uint32_t off;  /* into q->data (m == NULL) or into m->wire */
    struct msg *m; /* NULL: bytes in q->data */
};

struct outq {
    struct out_seg *segs;
    uint32_t head, tail, cap; /* pending segments are segs[head..tail) */
    uint32_t head_done;       /* bytes of segs[head] already written */
    uint8_t *data;            /* copied bytes; [data_head, data_len) may be pending */
    size_t data_head, data_len, data_cap;
    size_t bytes; /* bytes pending in all segments */
    /* Memory held: data_cap + segment array + referenced msg bytes pending.
     * Capacity, not pending bytes, because that is what the process holds;
     * referenced msgs count per reference (they live as long as one is held). */
    size_t mem;
    uint64_t *total; /* NULL, or the owner's sum of mem over its queues; kept by clear */
};

static inline bool outq_empty(const struct outq *q)
{
    return q->head == q->tail;
}

/* Append bytes (copied). Returns 0, or -1 on out of memory. */
int outq_put_bytes(struct outq *q, const void *data, size_t len);

/* Reserve len bytes at the end of the copied data for the caller to fill
 * (a packet assembled in place). NULL on out of memory. */
uint8_t *outq_append(struct outq *q, size_t len);

/* Append m->wire[off .. off+len) by reference (takes a ref). 0 or -1. */
int outq_put_msg(struct outq *q, struct msg *m, size_t off, size_t len);

/* Write as much as the transport takes. Returns 0 when everything is
 * written, 1 when the socket would block with data left, -1 on an error
 * (errno set). Bytes are consumed only once the transport has taken them,
 * so a blocked write is retried with the same bytes first. */
int outq_flush(struct outq *q, struct transport *t, int fd);
/* The same for the first limit pending bytes only (the rest is held back):
 * 0 once those are written, even with more pending. */
int outq_flush_upto(struct outq *q, struct transport *t, int fd, size_t limit);

static inline size_t outq_mem(const struct outq *q)
{
    return q->mem;
}

/* Drop everything pending and release the memory (q->total stays set). */
void outq_clear(struct outq *q);

#endif
