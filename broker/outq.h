/* A connection's output queue: packets waiting to be written, as segments
 * that are either a few inline bytes (fixed headers, acks, packet ids) or a
 * range of a shared, reference-counted msg (topic, payload). Writing is one
 * writev over many segments: payloads are never copied per subscriber. */
#ifndef STARLING_BROKER_OUTQ_H
#define STARLING_BROKER_OUTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/msg.h"

#define OUTQ_INLINE 16

struct out_seg {
    uint32_t len;
    bool is_ref;
    union {
        struct {
            struct msg *m;
            uint32_t off; /* into m->wire */
        } ref;
        uint8_t bytes[OUTQ_INLINE];
    } u;
};

struct outq {
    struct out_seg *segs;
    uint32_t head, tail, cap; /* pending segments are segs[head..tail) */
    uint32_t head_done;       /* bytes of segs[head] already written */
    size_t bytes;             /* bytes pending in all segments */
};

static inline bool outq_empty(const struct outq *q)
{
    return q->head == q->tail;
}

/* Append bytes (copied). Returns 0, or -1 on out of memory. */
int outq_put_bytes(struct outq *q, const void *data, size_t len);

/* Append m->wire[off .. off+len) by reference (takes a ref). 0 or -1. */
int outq_put_msg(struct outq *q, struct msg *m, size_t off, size_t len);

/* Write as much as the socket takes. Returns 0 when everything is written,
 * 1 when the socket would block with data left, -1 on a socket error. */
int outq_flush(struct outq *q, int fd);

/* Drop everything pending and release the memory. */
void outq_clear(struct outq *q);

#endif
