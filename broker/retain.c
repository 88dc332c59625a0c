#include "broker/retain.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "broker/topic_map.h"

struct rnode {
    struct topic_key key; /* first member: a map key converts back to its node */
    struct rnode *parent;
    struct topic_map kids;
    struct msg *msg; /* the retained message of this exact topic, or NULL */
    uint8_t label[];
};

struct retain_store {
    struct rnode *root;
    size_t count;
    struct hash_key key;
};

static struct rnode *node_new(const struct hash_key *key, struct rnode *parent,
                              const uint8_t *level, size_t len)
{
    struct rnode *n = malloc(sizeof(*n) + len);
    if (!n) return NULL;
    if (len) memcpy(n->label, level, len);
    n->key = (struct topic_key){n->label, topic_hash(key, level, len), (uint32_t)len};
    n->parent = parent;
    topic_map_init(&n->kids);
    n->msg = NULL;
    return n;
}

static struct rnode *child_get(const struct hash_key *key, const struct rnode *n,
                               const uint8_t *level, size_t len)
{
    return (struct rnode *)topic_map_get(&n->kids, level, len, topic_hash(key, level, len));
}

static struct rnode *child_get_or_add(const struct hash_key *key, struct rnode *n,
                                      const uint8_t *level, size_t len)
{
    struct rnode *c = child_get(key, n, level, len);
    if (c) return c;
    if (!(c = node_new(key, n, level, len))) return NULL;
    if (topic_map_put(&n->kids, &c->key) < 0) {
        free(c);
        return NULL;
    }
    return c;
}

/* Free n and its ancestors while they hold nothing. */
static void prune(struct retain_store *rs, struct rnode *n)
{
    while (n != rs->root && !n->msg && n->kids.count == 0) {
        struct rnode *p = n->parent;
        topic_map_del(&p->kids, &n->key);
        topic_map_free(&n->kids);
        free(n);
        n = p;
    }
}

struct retain_store *retain_new(const struct hash_key *key)
{
    struct retain_store *rs = malloc(sizeof(*rs));
    if (!rs) return NULL;
    rs->key = *key;
    if (!(rs->root = node_new(key, NULL, NULL, 0))) {
        free(rs);
        return NULL;
    }
    rs->count = 0;
    return rs;
}

/* Iterative, because topics may be thousands of levels deep: the parent
 * field, no longer needed, links the nodes still to free. */
void retain_free(struct retain_store *rs)
{
    if (!rs) return;
    struct rnode *todo = rs->root;
    todo->parent = NULL;
    while (todo) {
        struct rnode *n = todo;
        todo = n->parent;
        uint32_t pos = 0;
        for (struct topic_key *k; (k = topic_map_next(&n->kids, &pos));) {
            ((struct rnode *)k)->parent = todo;
            todo = (struct rnode *)k;
        }
        msg_unref(n->msg);
        topic_map_free(&n->kids);
        free(n);
    }
    free(rs);
}

static void retain_delete(struct retain_store *rs, const uint8_t *topic, size_t len)
{
    struct rnode *n = rs->root;
    for (size_t s = 0; n && s <= len;) {
        size_t e = topic_level_end(topic, len, s);
        n = child_get(&rs->key, n, topic + s, e - s);
        s = e + 1;
    }
    if (!n || !n->msg) return;
    msg_unref(n->msg);
    n->msg = NULL;
    rs->count--;
    prune(rs, n);
}

int retain_set(struct retain_store *rs, struct msg *m)
{
    const uint8_t *topic = m->topic;
    size_t len = m->topic_len;
    if (m->payload_len == 0) {
        retain_delete(rs, topic, len);
        return 0;
    }
    struct rnode *n = rs->root;
    for (size_t s = 0; s <= len;) {
        size_t e = topic_level_end(topic, len, s);
        struct rnode *c = child_get_or_add(&rs->key, n, topic + s, e - s);
        if (!c) {
            prune(rs, n); /* drop the nodes this call created */
            return -1;
        }
        n = c;
        s = e + 1;
    }
    msg_ref(m); /* before unref: m may already be the stored message */
    if (n->msg)
        msg_unref(n->msg);
    else
        rs->count++;
    n->msg = m;
    return 0;
}

size_t retain_count(const struct retain_store *rs)
{
    return rs->count;
}

/* --- matching: the filter walks the stored tree depth-first, without stack
 * or recursion. Trie depth equals filter level, so the parent pointer and the
 * previous filter level are enough to climb back; '+' levels resume from the
 * child's position in its parent's map. Under the root, wildcards skip '$'
 * levels (MQTT-4.7.2-1). --- */

struct retain_walk {
    const struct hash_key *key;
    const struct rnode *root;
    const uint8_t *filter;
    size_t len;
    retain_fn fn;
    void *ctx;
};

/* The first child of n at map position pos or later that a wildcard may visit. */
static const struct rnode *child_from(const struct retain_walk *w, const struct rnode *n,
                                      uint32_t pos)
{
    for (struct topic_key *k; (k = topic_map_next(&n->kids, &pos));)
        if (n != w->root || k->len == 0 || k->bytes[0] != '$') return (const struct rnode *)k;
    return NULL;
}

static const struct rnode *next_sibling(const struct retain_walk *w, const struct rnode *c)
{
    return child_from(w, c->parent, topic_map_pos_after(&c->parent->kids, &c->key));
}

/* '#': top itself and everything below it. */
static void report_subtree(const struct retain_walk *w, const struct rnode *top)
{
    const struct rnode *n = top, *c;
    for (;;) {
        if (n->msg) w->fn(w->ctx, n->msg);
        if ((c = child_from(w, n, 0))) {
            n = c;
            continue;
        }
        while (n != top && !(c = next_sibling(w, n)))
            n = n->parent;
        if (n == top) return;
        n = c;
    }
}

static bool is_level(const struct retain_walk *w, size_t s, size_t e, uint8_t wildcard)
{
    return e - s == 1 && w->filter[s] == wildcard;
}

/* n's subtree is done: return the next node to explore (a later sibling
 * under a '+' level of n or of an ancestor) with *s its next filter level,
 * or NULL when finished. */
static const struct rnode *climb(const struct retain_walk *w, const struct rnode *n, size_t *s)
{
    while (n != w->root) {
        size_t ps = topic_level_before(w->filter, *s);
        const struct rnode *c;
        if (is_level(w, ps, *s - 1, '+') && (c = next_sibling(w, n))) return c;
        *s = ps;
        n = n->parent;
    }
    return NULL;
}

void retain_match(const struct retain_store *rs, const uint8_t *filter, size_t len, retain_fn fn,
                  void *ctx)
{
    struct retain_walk w = {&rs->key, rs->root, filter, len, fn, ctx};
    const struct rnode *n = rs->root;
    size_t s = 0; /* start of the next filter level; len + 1 once all are consumed */
    while (n) {
        if (s == len + 1) {
            if (n->msg) fn(ctx, n->msg);
            n = climb(&w, n, &s);
            continue;
        }
        size_t e = topic_level_end(filter, len, s);
        if (is_level(&w, s, e, '#')) {
            report_subtree(&w, n);
            n = climb(&w, n, &s);
            continue;
        }
        const struct rnode *c =
            is_level(&w, s, e, '+') ? child_from(&w, n, 0) : child_get(w.key, n, filter + s, e - s);
        if (c) {
            n = c;
            s = e + 1;
        } else {
            n = climb(&w, n, &s);
        }
    }
}
