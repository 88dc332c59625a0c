/* A batch of store ops being filled on the loop thread, then read by the
 * writer thread while the next one fills. It owns everything its ops point
 * at: byte ranges it copied (client ids, user names, filters, topics of
 * deletions) in blocks that never move, and a reference to each message
 * whose topic and payload an op points into. */
#ifndef STARLING_BROKER_BATCH_H
#define STARLING_BROKER_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/store/store.h"

struct msg;
struct batch_block;

struct batch {
    struct store_op *ops;
    size_t n, cap;
    struct msg **refs;
    size_t n_refs, cap_refs;
    struct batch_block *blocks;
    uint64_t bytes; /* memory it holds, referenced messages included */
};

/* Append op, copying op->a / op->b when copy_a / copy_b, and keeping a
 * reference to keep (NULL: none) for as long as the batch lives. 0, or -1
 * on out of memory (the batch is unchanged). */
int batch_add(struct batch *bt, const struct store_op *op, bool copy_a, bool copy_b,
              struct msg *keep);
static inline bool batch_empty(const struct batch *bt)
{
    return bt->n == 0;
}
/* Drop the ops of every message and entry that the batch both creates
 * (first op) and deletes (last op): the store never needs to see them. A
 * QoS 1 message delivered and acknowledged while its batch was filling
 * costs no write at all. Best effort: without memory nothing is dropped. */
void batch_compact(struct batch *bt);
/* Forget the ops, release copies and references (the op array is kept
 * for the next use). */
void batch_clear(struct batch *bt);
void batch_free(struct batch *bt);

#endif
