#include "broker/route/sub_set.h"

#include <stdbool.h>
#include <stdlib.h>

/* Below this capacity a linear scan is cheaper than an index. */
#define INDEX_MIN_CAP 16u

void sub_set_init(struct sub_set *s)
{
    s->v = NULL;
    s->idx = NULL;
    s->n = s->cap = 0;
}

void sub_set_free(struct sub_set *s)
{
    free(s->v);
    free(s->idx);
    sub_set_init(s);
}

static uint32_t ptr_hash(const void *p)
{
    return (uint32_t)(((uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ull) >> 32);
}

static void index_put(uint32_t *idx, uint32_t icap, const void *sub, uint32_t pos)
{
    uint32_t i = ptr_hash(sub) & (icap - 1);
    while (idx[i])
        i = (i + 1) & (icap - 1);
    idx[i] = pos + 1;
}

/* Slot of idx holding sub's position; sub must be present. */
static uint32_t index_slot(const struct sub_set *s, const void *sub)
{
    uint32_t mask = 2 * s->cap - 1, i = ptr_hash(sub) & mask;
    while (s->v[s->idx[i] - 1].sub != sub)
        i = (i + 1) & mask;
    return i;
}

/* Backward-shift deletion: no tombstones, probe chains stay intact. */
static void index_remove(struct sub_set *s, uint32_t hole)
{
    uint32_t mask = 2 * s->cap - 1;
    for (uint32_t j = (hole + 1) & mask; s->idx[j]; j = (j + 1) & mask) {
        uint32_t home = ptr_hash(s->v[s->idx[j] - 1].sub) & mask;
        bool home_between = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
        if (!home_between) {
            s->idx[hole] = s->idx[j];
            hole = j;
        }
    }
    s->idx[hole] = 0;
}

/* -1 (set unchanged) if growing fails; a failed shrink keeps the old block. */
static int set_capacity(struct sub_set *s, uint32_t cap)
{
    uint32_t *idx = NULL;
    if (cap >= INDEX_MIN_CAP && !(idx = calloc(2 * (size_t)cap, sizeof(*idx)))) return -1;
    struct sub_entry *v = realloc(s->v, cap * sizeof(*v));
    if (!v) {
        if (cap > s->cap) {
            free(idx);
            return -1;
        }
        v = s->v;
    }
    free(s->idx);
    s->v = v;
    s->idx = idx;
    s->cap = cap;
    for (uint32_t i = 0; idx && i < s->n; i++)
        index_put(idx, 2 * cap, v[i].sub, i);
    return 0;
}

uint32_t sub_set_find(const struct sub_set *s, const void *sub)
{
    if (s->idx) {
        uint32_t mask = 2 * s->cap - 1;
        for (uint32_t i = ptr_hash(sub) & mask; s->idx[i]; i = (i + 1) & mask)
            if (s->v[s->idx[i] - 1].sub == sub) return s->idx[i] - 1;
        return SUB_SET_NONE;
    }
    for (uint32_t i = 0; i < s->n; i++)
        if (s->v[i].sub == sub) return i;
    return SUB_SET_NONE;
}

int sub_set_add(struct sub_set *s, void *sub, uint8_t qos)
{
    if (s->n == s->cap) {
        if (s->cap >= UINT32_MAX / 4 || set_capacity(s, s->cap ? s->cap * 2 : 1) < 0) return -1;
    }
    s->v[s->n] = (struct sub_entry){sub, qos};
    if (s->idx) index_put(s->idx, 2 * s->cap, sub, s->n);
    s->n++;
    return 0;
}

void sub_set_remove_at(struct sub_set *s, uint32_t i)
{
    uint32_t last = s->n - 1;
    if (s->idx) index_remove(s, index_slot(s, s->v[i].sub));
    if (i != last) {
        /* index_slot finds the moved sub through its old position, still intact. */
        if (s->idx) s->idx[index_slot(s, s->v[last].sub)] = i + 1;
        s->v[i] = s->v[last];
    }
    s->n--;
    if (s->n == 0)
        sub_set_free(s);
    else if (s->cap >= 8 && s->n * 4 <= s->cap)
        set_capacity(s, s->cap / 2);
}
