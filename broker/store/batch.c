#include "broker/store/batch.h"

#include <stdlib.h>
#include <string.h>

#include "broker/route/msg.h"

#define BLOCK_SIZE 16384
#define BIG_ARRAY 65536

struct batch_block {
    struct batch_block *next;
    size_t used, size;
    uint8_t data[];
};

static uint8_t *copy_bytes(struct batch *bt, const uint8_t *p, size_t len)
{
    static uint8_t none;
    if (len == 0) return &none;
    struct batch_block *blk = bt->blocks;
    if (!blk || blk->size - blk->used < len) {
        size_t size = len > BLOCK_SIZE ? len : BLOCK_SIZE;
        struct batch_block *n = malloc(sizeof(*n) + size);
        if (!n) return NULL;
        n->used = 0;
        n->size = size;
        /* A large copy gets its own block behind the current one, so the
         * current one keeps filling. */
        if (blk && len > BLOCK_SIZE) {
            n->next = blk->next;
            blk->next = n;
        } else {
            n->next = blk;
            bt->blocks = n;
        }
        bt->bytes += sizeof(*n) + size;
        blk = n;
    }
    uint8_t *at = blk->data + blk->used;
    if (len) memcpy(at, p, len);
    blk->used += len;
    return at;
}

static int reserve(void **arr, size_t *cap, size_t n, size_t elem, uint64_t *bytes)
{
    if (n < *cap) return 0;
    size_t ncap = *cap ? *cap * 2 : 64;
    void *p = realloc(*arr, ncap * elem);
    if (!p) return -1;
    *bytes += (ncap - *cap) * elem;
    *arr = p;
    *cap = ncap;
    return 0;
}

int batch_add(struct batch *bt, const struct store_op *op, bool copy_a, bool copy_b,
              struct msg *keep)
{
    if (reserve((void **)&bt->ops, &bt->cap, bt->n, sizeof(*bt->ops), &bt->bytes) < 0) return -1;
    if (keep &&
        reserve((void **)&bt->refs, &bt->cap_refs, bt->n_refs, sizeof(*bt->refs), &bt->bytes) < 0)
        return -1;
    struct store_op o = *op;
    /* A failed second copy leaves the first in a block: reclaimed by clear. */
    if (copy_a && !(o.a = copy_bytes(bt, op->a, op->a_len))) return -1;
    if (copy_b && !(o.b = copy_bytes(bt, op->b, op->b_len))) return -1;
    if (keep) {
        bt->refs[bt->n_refs++] = msg_ref(keep);
        bt->bytes += keep->topic_len + keep->payload_len;
    }
    bt->ops[bt->n++] = o;
    return 0;
}

void batch_clear(struct batch *bt)
{
    for (size_t i = 0; i < bt->n_refs; i++)
        msg_unref(bt->refs[i]);
    while (bt->blocks) {
        struct batch_block *n = bt->blocks->next;
        free(bt->blocks);
        bt->blocks = n;
    }
    bt->n = bt->n_refs = 0;
    /* After a burst, the arrays go back to nothing rather than staying at
     * their peak. */
    if (bt->cap > BIG_ARRAY) {
        free(bt->ops);
        bt->ops = NULL;
        bt->cap = 0;
    }
    if (bt->cap_refs > BIG_ARRAY) {
        free(bt->refs);
        bt->refs = NULL;
        bt->cap_refs = 0;
    }
    bt->bytes = (bt->cap * sizeof(*bt->ops)) + (bt->cap_refs * sizeof(*bt->refs));
}

void batch_free(struct batch *bt)
{
    batch_clear(bt);
    free(bt->ops);
    free(bt->refs);
    memset(bt, 0, sizeof(*bt));
}
