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

/* What batch_compact knows of one message id or entry (key, seq). */
struct row {
    uint64_t a, b; /* message: (id, 0); entry: (key, seq + 1), never (x, 0) */
    bool used, first_creates, last_deletes;
};

static bool compactable(const struct store_op *op, uint64_t *a, uint64_t *b)
{
    switch (op->type) {
    case STORE_MSG_PUT:
    case STORE_MSG_DEL:
        *a = op->id;
        *b = 0;
        return true;
    case STORE_ENTRY_PUT:
    case STORE_ENTRY_DEL:
        *a = op->key;
        *b = op->seq + 1;
        return true;
    default:
        return false;
    }
}

static struct row *row_of(struct row *t, size_t mask, uint64_t a, uint64_t b)
{
    size_t i = (size_t)((a * 0x9E3779B97F4A7C15ull) ^ (b * 0xC2B2AE3D27D4EB4Full)) & mask;
    while (t[i].used && (t[i].a != a || t[i].b != b))
        i = (i + 1) & mask;
    return &t[i];
}

void batch_compact(struct batch *bt)
{
    size_t cap = 16;
    while (cap < bt->n * 2)
        cap *= 2;
    struct row *t = calloc(cap, sizeof(*t));
    if (!t) return;
    uint64_t a, b;
    for (size_t i = 0; i < bt->n; i++) {
        const struct store_op *op = &bt->ops[i];
        if (!compactable(op, &a, &b)) continue;
        struct row *r = row_of(t, cap - 1, a, b);
        if (!r->used)
            *r = (struct row){
                a, b, true,
                op->type == STORE_MSG_PUT || (op->type == STORE_ENTRY_PUT && op->created), false};
        r->last_deletes = op->type == STORE_MSG_DEL || op->type == STORE_ENTRY_DEL;
    }
    size_t n = 0;
    for (size_t i = 0; i < bt->n; i++) {
        const struct store_op *op = &bt->ops[i];
        if (compactable(op, &a, &b)) {
            const struct row *r = row_of(t, cap - 1, a, b);
            if (r->first_creates && r->last_deletes) continue;
        }
        bt->ops[n++] = *op;
    }
    bt->n = n;
    free(t);
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
