#include "broker/session/session_table.h"

#include <stdlib.h>
#include <string.h>

uint32_t session_id_hash(const struct session_table *t, const uint8_t *id, size_t len)
{
    return (uint32_t)hash_bytes(&t->key, id, len);
}

struct session *session_table_find(const struct session_table *t, const uint8_t *id, size_t len,
                                   uint32_t hash)
{
    if (!t->n_buckets) return NULL;
    for (struct session *s = t->buckets[hash & (t->n_buckets - 1)]; s; s = s->hnext)
        if (s->hash == hash && s->id_len == len && memcmp(s->client_id, id, len) == 0) return s;
    return NULL;
}

static int grow(struct session_table *t)
{
    size_t n = t->n_buckets ? t->n_buckets * 2 : 64;
    struct session **b = calloc(n, sizeof(*b));
    if (!b) return -1;
    for (size_t i = 0; i < t->n_buckets; i++) {
        struct session *s = t->buckets[i];
        while (s) {
            struct session *next = s->hnext;
            s->hnext = b[s->hash & (n - 1)];
            b[s->hash & (n - 1)] = s;
            s = next;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->n_buckets = n;
    return 0;
}

int session_table_insert(struct session_table *t, struct session *s)
{
    if (t->count >= t->n_buckets && grow(t) < 0) return -1;
    struct session **head = &t->buckets[s->hash & (t->n_buckets - 1)];
    s->hnext = *head;
    *head = s;
    t->count++;
    return 0;
}

void session_table_remove(struct session_table *t, struct session *s)
{
    if (!t->n_buckets) return;
    for (struct session **p = &t->buckets[s->hash & (t->n_buckets - 1)]; *p; p = &(*p)->hnext) {
        if (*p == s) {
            *p = s->hnext;
            s->hnext = NULL;
            t->count--;
            return;
        }
    }
}

void session_table_free(struct session_table *t)
{
    free(t->buckets);
    t->buckets = NULL;
    t->n_buckets = t->count = 0;
}
