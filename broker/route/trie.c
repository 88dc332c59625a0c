#include "broker/route/trie.h"

#include <stdlib.h>
#include <string.h>

#include "broker/route/sub_set.h"
#include "broker/route/topic_map.h"

enum node_kind { KIND_EXACT, KIND_PLUS, KIND_HASH };

/* What only some nodes have: wildcard children and subscribers. Most nodes
 * of a deep topic tree are plain interior levels, so keeping these out of
 * line makes a level cost about 64 bytes instead of about 100. */
struct tnode_extra {
    struct tnode *plus, *hash;
    struct sub_set subs; /* filters ending here */
};

struct tnode {
    struct topic_key key; /* first member: a map key converts back to its node */
    struct tnode *parent;
    struct topic_map kids; /* exact children */
    struct tnode_extra *x; /* NULL while there is nothing to put in it */
    uint8_t kind;
    uint8_t label[];
};

struct trie {
    struct tnode *root;
    size_t count;
    struct hash_key key;
};

static enum node_kind level_kind(const uint8_t *level, size_t len)
{
    if (len == 1 && level[0] == '+') return KIND_PLUS;
    if (len == 1 && level[0] == '#') return KIND_HASH;
    return KIND_EXACT;
}

/* --- nodes --- */

static struct tnode *node_new(const struct hash_key *key, struct tnode *parent, enum node_kind kind,
                              const uint8_t *level, size_t len)
{
    struct tnode *n = malloc(sizeof(*n) + len);
    if (!n) return NULL;
    if (len) memcpy(n->label, level, len);
    n->key = (struct topic_key){n->label, topic_hash(key, level, len), (uint32_t)len};
    n->parent = parent;
    topic_map_init(&n->kids);
    n->x = NULL;
    n->kind = (uint8_t)kind;
    return n;
}

static void node_destroy(struct tnode *n)
{
    topic_map_free(&n->kids);
    if (n->x) sub_set_free(&n->x->subs);
    free(n->x);
    free(n);
}

static struct tnode_extra *extra_get_or_add(struct tnode *n)
{
    if (!n->x && (n->x = malloc(sizeof(*n->x)))) {
        n->x->plus = n->x->hash = NULL;
        sub_set_init(&n->x->subs);
    }
    return n->x;
}

/* Keeps the invariant that x is NULL when it holds nothing. */
static void extra_drop_if_empty(struct tnode *n)
{
    if (n->x && !n->x->plus && !n->x->hash && n->x->subs.n == 0) {
        sub_set_free(&n->x->subs);
        free(n->x);
        n->x = NULL;
    }
}

static struct tnode *plus_child(const struct tnode *n)
{
    return n->x ? n->x->plus : NULL;
}

static struct tnode *hash_child(const struct tnode *n)
{
    return n->x ? n->x->hash : NULL;
}

static struct tnode *child_get(const struct trie *t, const struct tnode *n, const uint8_t *level,
                               size_t len)
{
    switch (level_kind(level, len)) {
    case KIND_PLUS:
        return plus_child(n);
    case KIND_HASH:
        return hash_child(n);
    default:
        return (struct tnode *)topic_map_find(&n->kids, &t->key, level, len);
    }
}

static struct tnode *child_get_or_add(struct trie *t, struct tnode *n, const uint8_t *level,
                                      size_t len)
{
    struct tnode *c = child_get(t, n, level, len);
    if (c) return c;
    enum node_kind kind = level_kind(level, len);
    if (kind != KIND_EXACT && !extra_get_or_add(n)) return NULL;
    if (!(c = node_new(&t->key, n, kind, level, len))) return NULL;
    if (kind == KIND_PLUS)
        n->x->plus = c;
    else if (kind == KIND_HASH)
        n->x->hash = c;
    else if (topic_map_put(&n->kids, &c->key) < 0) {
        node_destroy(c);
        return NULL;
    }
    return c;
}

static bool node_empty(const struct tnode *n)
{
    return !n->x && n->kids.count == 0;
}

/* Free n and its ancestors while they hold nothing. */
static void prune(struct trie *t, struct tnode *n)
{
    for (;;) {
        extra_drop_if_empty(n);
        if (n == t->root || !node_empty(n)) return;
        struct tnode *p = n->parent;
        if (n->kind == KIND_PLUS)
            p->x->plus = NULL;
        else if (n->kind == KIND_HASH)
            p->x->hash = NULL;
        else
            topic_map_del(&p->kids, &n->key);
        node_destroy(n);
        n = p;
    }
}

/* --- public API --- */

struct trie *trie_new(const struct hash_key *key)
{
    struct trie *t = malloc(sizeof(*t));
    if (!t) return NULL;
    t->key = *key;
    if (!(t->root = node_new(key, NULL, KIND_EXACT, NULL, 0))) {
        free(t);
        return NULL;
    }
    t->count = 0;
    return t;
}

/* Iterative, because filters may be thousands of levels deep: the parent
 * field, no longer needed, links the nodes still to free. */
void trie_free(struct trie *t)
{
    if (!t) return;
    struct tnode *todo = t->root;
    todo->parent = NULL;
    while (todo) {
        struct tnode *n = todo;
        todo = n->parent;
        uint32_t pos = 0;
        for (struct topic_key *k; (k = topic_map_next(&n->kids, &pos));) {
            ((struct tnode *)k)->parent = todo;
            todo = (struct tnode *)k;
        }
        struct tnode *wild[2] = {plus_child(n), hash_child(n)};
        for (int i = 0; i < 2; i++) {
            if (!wild[i]) continue;
            wild[i]->parent = todo;
            todo = wild[i];
        }
        node_destroy(n);
    }
    free(t);
}

int trie_subscribe(struct trie *t, const uint8_t *filter, size_t len, void *sub, uint8_t qos)
{
    struct tnode *n = t->root;
    for (size_t s = 0; s <= len;) {
        size_t e = topic_level_end(filter, len, s);
        struct tnode *c = child_get_or_add(t, n, filter + s, e - s);
        if (!c) {
            prune(t, n); /* drop the nodes this call created */
            return -1;
        }
        n = c;
        s = e + 1;
    }
    struct tnode_extra *x = extra_get_or_add(n);
    uint32_t i = x ? sub_set_find(&x->subs, sub) : SUB_SET_NONE;
    if (i != SUB_SET_NONE) {
        x->subs.v[i].qos = qos;
        return 0;
    }
    if (!x || sub_set_add(&x->subs, sub, qos) < 0) {
        prune(t, n);
        return -1;
    }
    t->count++;
    return 1;
}

bool trie_unsubscribe(struct trie *t, const uint8_t *filter, size_t len, void *sub)
{
    struct tnode *n = t->root;
    for (size_t s = 0; n && s <= len;) {
        size_t e = topic_level_end(filter, len, s);
        n = child_get(t, n, filter + s, e - s);
        s = e + 1;
    }
    uint32_t i = n && n->x ? sub_set_find(&n->x->subs, sub) : SUB_SET_NONE;
    if (i == SUB_SET_NONE) return false;
    sub_set_remove_at(&n->x->subs, i);
    t->count--;
    prune(t, n);
    return true;
}

size_t trie_count(const struct trie *t)
{
    return t->count;
}

/* --- matching: a depth-first walk without stack or recursion ---
 * The current node's ancestors are the path being explored, and each trie
 * level is one topic level, so climbing back needs only the parent pointer
 * and the start of the previous topic level. Exact branches are explored
 * before '+' ones. A '$' topic gets no wildcard at the root (MQTT-4.7.2-1). */

struct match_walk {
    const struct tnode *root;
    const uint8_t *topic;
    size_t len;
    bool dollar;
};

static const struct tnode *plus_of(const struct match_walk *w, const struct tnode *n)
{
    return n == w->root && w->dollar ? NULL : plus_child(n);
}

static void report(const struct sub_set *s, trie_match_fn fn, void *ctx)
{
    for (uint32_t i = 0; i < s->n; i++)
        fn(ctx, s->v[i].sub, s->v[i].qos);
}

/* n's subtree is done: return the next unexplored '+' sibling branch of n or
 * of an ancestor (updating *s to its next level), or NULL when finished. */
static const struct tnode *climb(const struct match_walk *w, const struct tnode *n, size_t *s)
{
    while (n != w->root) {
        const struct tnode *p = n->parent;
        /* The '+' sibling consumes the same level, so *s stays. */
        if (n->kind == KIND_EXACT && plus_of(w, p)) return p->x->plus;
        *s = topic_level_before(w->topic, *s);
        n = p;
    }
    return NULL;
}

void trie_match(const struct trie *t, const uint8_t *topic, size_t len, trie_match_fn fn, void *ctx)
{
    struct match_walk w = {t->root, topic, len, len > 0 && topic[0] == '$'};
    const struct tnode *n = t->root;
    size_t s = 0; /* start of the next topic level; len + 1 once all are consumed */
    while (n) {
        /* A '#' child matches the rest of the topic, including nothing of it. */
        const struct tnode_extra *x = n->x;
        const struct tnode *h = x ? x->hash : NULL;
        if (h && h->x && !(n == w.root && w.dollar)) report(&h->x->subs, fn, ctx);
        if (s == len + 1) {
            if (x) report(&x->subs, fn, ctx);
            n = climb(&w, n, &s);
            continue;
        }
        size_t e = topic_level_end(topic, len, s);
        const struct tnode *c =
            (const struct tnode *)topic_map_find(&n->kids, &t->key, topic + s, e - s);
        if (!c) c = plus_of(&w, n);
        if (c) {
            n = c;
            s = e + 1;
        } else {
            n = climb(&w, n, &s);
        }
    }
}
