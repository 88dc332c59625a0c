#include "broker/session/id_set.h"

#include <stdlib.h>
#include <string.h>

#define BITMAP_WORDS (65536u / 64u)

static bool is_map(const struct id_set *s)
{
    return s->cap == ID_SET_BITMAP;
}

static int array_find(const struct id_set *s, uint16_t id)
{
    const uint16_t *a = s->p;
    for (uint32_t i = 0; i < s->n; i++)
        if (a[i] == id) return (int)i;
    return -1;
}

/* The array is full at ID_SET_ARRAY_MAX: move its ids into a bit map. */
static int to_map(struct id_set *s)
{
    uint64_t *map = calloc(BITMAP_WORDS, sizeof(*map));
    if (!map) return -1;
    const uint16_t *a = s->p;
    for (uint32_t i = 0; i < s->n; i++)
        map[a[i] / 64] |= UINT64_C(1) << (a[i] % 64);
    free(s->p);
    s->p = map;
    s->cap = ID_SET_BITMAP;
    return 0;
}

int id_set_add(struct id_set *s, uint16_t id)
{
    if (!is_map(s)) {
        if (array_find(s, id) >= 0) return 0;
        if (s->n == ID_SET_ARRAY_MAX) {
            if (to_map(s) < 0) return -1;
        } else {
            if (s->n == s->cap) {
                uint32_t ncap = s->cap ? s->cap * 2 : 4;
                uint16_t *a = realloc(s->p, ncap * sizeof(*a));
                if (!a) return -1;
                s->p = a;
                s->cap = ncap;
            }
            ((uint16_t *)s->p)[s->n++] = id;
            return 1;
        }
    }
    uint64_t *map = s->p, bit = UINT64_C(1) << (id % 64);
    if (map[id / 64] & bit) return 0;
    map[id / 64] |= bit;
    s->n++;
    return 1;
}

bool id_set_remove(struct id_set *s, uint16_t id)
{
    if (is_map(s)) {
        uint64_t *map = s->p, bit = UINT64_C(1) << (id % 64);
        if (!(map[id / 64] & bit)) return false;
        map[id / 64] &= ~bit;
        s->n--;
    } else {
        int i = array_find(s, id);
        if (i < 0) return false;
        uint16_t *a = s->p;
        a[i] = a[--s->n];
    }
    if (s->n == 0) id_set_free(s); /* an idle session keeps nothing */
    return true;
}

void id_set_free(struct id_set *s)
{
    free(s->p);
    memset(s, 0, sizeof(*s));
}
