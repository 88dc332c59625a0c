#include "broker/route/retain.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "broker/route/topic_map.h"

/* Children are both in a map (lookup by level) and in a list (walks): the
 * list gives cursors an order that inserts and deletes never reshuffle,
 * where the map's open-addressing slots move on every resize. New children
 * go to the front, so a cursor never meets a node twice. */
struct rnode {
    struct topic_key key; /* first member: a map key converts back to its node */
    struct rnode *parent;
    struct rnode *first, *next, *prev; /* children; siblings */
    struct topic_map kids;
    struct msg *msg; /* the retained message of this exact topic, or NULL */
    uint32_t pins;   /* cursors standing here: not freed while > 0 */
    uint8_t label[];
};

struct retain_store {
    struct rnode *root;
    /* The root's '$' children are listed here rather than under root->first,
     * so that leading wildcards skip them without a step (MQTT-4.7.2-1);
     * the root's map still finds them by name. */
    struct rnode *dollar;
    size_t count;
    uint64_t bytes;     /* memory of the nodes and the stored messages */
    uint64_t max_bytes; /* 0: no bound */
    struct hash_key key;
};

/* What a node or a stored message costs, as the store counts it. */
static uint64_t node_cost(size_t label_len)
{
    return sizeof(struct rnode) + label_len;
}

static uint64_t msg_cost(const struct msg *m)
{
    return sizeof(*m) + 2 + (uint64_t)m->topic_len + m->payload_len;
}

static void node_release(struct retain_store *rs, struct rnode *n)
{
    rs->bytes -= node_cost(n->key.len);
    topic_map_free(&n->kids);
    free(n);
}

static struct rnode *node_new(const struct hash_key *key, struct rnode *parent,
                              const uint8_t *level, size_t len)
{
    struct rnode *n = malloc(sizeof(*n) + len);
    if (!n) return NULL;
    if (len) memcpy(n->label, level, len);
    n->key = (struct topic_key){n->label, topic_hash(key, level, len), (uint32_t)len};
    n->parent = parent;
    n->first = n->next = n->prev = NULL;
    topic_map_init(&n->kids);
    n->msg = NULL;
    n->pins = 0;
    return n;
}

static struct rnode **list_of(struct retain_store *rs, struct rnode *parent, const struct rnode *c)
{
    if (parent == rs->root && c->key.len && c->label[0] == '$') return &rs->dollar;
    return &parent->first;
}

static void link_child(struct retain_store *rs, struct rnode *p, struct rnode *c)
{
    struct rnode **head = list_of(rs, p, c);
    c->next = *head;
    if (*head) (*head)->prev = c;
    *head = c;
}

static void unlink_child(struct retain_store *rs, struct rnode *p, struct rnode *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        *list_of(rs, p, c) = c->next;
    if (c->next) c->next->prev = c->prev;
}

static struct rnode *child_get(const struct hash_key *key, const struct rnode *n,
                               const uint8_t *level, size_t len)
{
    return (struct rnode *)topic_map_find(&n->kids, key, level, len);
}

static struct rnode *child_get_or_add(struct retain_store *rs, struct rnode *n,
                                      const uint8_t *level, size_t len)
{
    struct rnode *c = child_get(&rs->key, n, level, len);
    if (c) return c;
    if (!(c = node_new(&rs->key, n, level, len))) return NULL;
    if (topic_map_put(&n->kids, &c->key) < 0) {
        free(c);
        return NULL;
    }
    rs->bytes += node_cost(len);
    link_child(rs, n, c);
    return c;
}

/* Free n and its ancestors while they hold nothing and no cursor stands there. */
static void prune(struct retain_store *rs, struct rnode *n)
{
    while (n != rs->root && !n->msg && n->kids.count == 0 && n->pins == 0) {
        struct rnode *p = n->parent;
        topic_map_del(&p->kids, &n->key);
        unlink_child(rs, p, n);
        node_release(rs, n);
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
    rs->dollar = NULL;
    rs->count = 0;
    rs->bytes = rs->max_bytes = 0;
    return rs;
}

/* Push a list of siblings on the stack of nodes to free, linked through
 * their parent fields (no longer needed). */
static void push_all(struct rnode *c, struct rnode **todo)
{
    for (struct rnode *next; c; c = next) {
        next = c->next;
        c->parent = *todo;
        *todo = c;
    }
}

/* Iterative, because topics may be thousands of levels deep. */
void retain_free(struct retain_store *rs)
{
    if (!rs) return;
    struct rnode *todo = NULL;
    push_all(rs->root->first, &todo);
    push_all(rs->dollar, &todo);
    topic_map_free(&rs->root->kids);
    free(rs->root);
    while (todo) {
        struct rnode *n = todo;
        todo = n->parent;
        push_all(n->first, &todo);
        msg_unref(n->msg);
        topic_map_free(&n->kids);
        free(n);
    }
    free(rs);
}

static struct rnode *find_node(const struct retain_store *rs, const uint8_t *topic, size_t len)
{
    struct rnode *n = rs->root;
    for (size_t s = 0; n && s <= len;) {
        size_t e = topic_level_end(topic, len, s);
        n = child_get(&rs->key, n, topic + s, e - s);
        s = e + 1;
    }
    return n;
}

struct msg *retain_find(const struct retain_store *rs, const uint8_t *topic, size_t len)
{
    struct rnode *n = find_node(rs, topic, len);
    return n ? n->msg : NULL;
}

static void retain_delete(struct retain_store *rs, const uint8_t *topic, size_t len)
{
    struct rnode *n = find_node(rs, topic, len);
    if (!n || !n->msg) return;
    rs->bytes -= msg_cost(n->msg);
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
        struct rnode *c = child_get_or_add(rs, n, topic + s, e - s);
        if (!c) {
            prune(rs, n); /* drop the nodes this call created */
            return -1;
        }
        n = c;
        s = e + 1;
    }
    uint64_t old = n->msg ? msg_cost(n->msg) : 0;
    if (rs->max_bytes && rs->bytes - old + msg_cost(m) > rs->max_bytes) {
        prune(rs, n); /* the nodes this call created, if any */
        return RETAIN_FULL;
    }
    rs->bytes += msg_cost(m) - old;
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

uint64_t retain_bytes(const struct retain_store *rs)
{
    return rs->bytes;
}

void retain_set_max_bytes(struct retain_store *rs, uint64_t max_bytes)
{
    rs->max_bytes = max_bytes;
}

/* --- matching: the filter walks the stored tree depth-first, without stack
 * or recursion, one node per step. Trie depth equals filter level, so the
 * parent pointer and the previous filter level are enough to climb back;
 * '+' levels resume from the child's next sibling. --- */

struct retain_cursor {
    struct retain_store *rs;
    struct rnode *n;   /* the node to visit next (pinned); NULL when finished */
    struct rnode *top; /* inside a '#' level: the subtree being reported */
    size_t s;          /* start of n's filter level; len + 1 once all are consumed */
    const uint8_t *filter;
    size_t len;
    bool pin; /* false for retain_match, which runs while the store cannot change */
    uint8_t copy[];
};

/* Stand on next instead of the current node; a node left empty is freed. */
static void move_to(struct retain_cursor *c, struct rnode *next)
{
    struct rnode *old = c->n;
    if (next == old) return;
    if (next && c->pin) next->pins++;
    c->n = next;
    if (old && c->pin) {
        old->pins--;
        prune(c->rs, old); /* next is not among them: it is a child of a kept node */
    }
}

static bool is_level(const struct retain_cursor *c, size_t s, size_t e, uint8_t wildcard)
{
    return e - s == 1 && c->filter[s] == wildcard;
}

/* n's subtree is done: the next node to explore (a later sibling under a
 * '+' level of n or of an ancestor), with c->s its filter level, or NULL. */
static struct rnode *climb(struct retain_cursor *c, struct rnode *n)
{
    while (n != c->rs->root) {
        size_t ps = topic_level_before(c->filter, c->s);
        if (is_level(c, ps, c->s - 1, '+') && n->next) return n->next;
        c->s = ps;
        n = n->parent;
    }
    return NULL;
}

/* '#': the pre-order successor of n within c->top's subtree, then on. */
static struct rnode *subtree_next(struct retain_cursor *c, struct rnode *n)
{
    if (n->first) return n->first;
    while (n != c->top && !n->next)
        n = n->parent;
    if (n != c->top) return n->next;
    c->top = NULL;
    return climb(c, n);
}

/* One step: the message to report at the current node (or NULL), moving on. */
static struct msg *visit(struct retain_cursor *c)
{
    struct rnode *n = c->n, *next;
    struct msg *m = NULL;
    if (c->top) {
        m = n->msg;
        next = subtree_next(c, n);
    } else if (c->s == c->len + 1) {
        m = n->msg;
        next = climb(c, n);
    } else {
        size_t e = topic_level_end(c->filter, c->len, c->s);
        if (is_level(c, c->s, e, '#')) {
            c->top = n; /* n itself is reported by the next step */
            return NULL;
        }
        next = is_level(c, c->s, e, '+') ? n->first
                                         : child_get(&c->rs->key, n, c->filter + c->s, e - c->s);
        if (next)
            c->s = e + 1;
        else
            next = climb(c, n);
    }
    move_to(c, next);
    return m;
}

static void cursor_init(struct retain_cursor *c, struct retain_store *rs, const uint8_t *filter,
                        size_t len, bool pin)
{
    c->rs = rs;
    c->n = c->top = NULL;
    c->s = 0;
    c->filter = filter;
    c->len = len;
    c->pin = pin;
    move_to(c, rs->root);
}

struct retain_cursor *retain_cursor_new(struct retain_store *rs, const uint8_t *filter, size_t len)
{
    struct retain_cursor *c = malloc(sizeof(*c) + len);
    if (!c) return NULL;
    memcpy(c->copy, filter, len);
    cursor_init(c, rs, c->copy, len, true);
    return c;
}

void retain_cursor_restart(struct retain_cursor *c)
{
    c->top = NULL;
    c->s = 0;
    move_to(c, c->rs->root);
}

void retain_cursor_free(struct retain_cursor *c)
{
    if (!c) return;
    move_to(c, NULL);
    free(c);
}

const uint8_t *retain_cursor_filter(const struct retain_cursor *c, size_t *len)
{
    *len = c->len;
    return c->filter;
}

enum retain_step retain_cursor_next(struct retain_cursor *c, uint32_t *budget, struct msg **out)
{
    while (c->n) {
        if (*budget == 0) return RETAIN_MORE;
        --*budget;
        struct msg *m = visit(c);
        if (m) {
            *out = m;
            return RETAIN_MSG;
        }
    }
    return RETAIN_DONE;
}

void retain_match(const struct retain_store *rs, const uint8_t *filter, size_t len, retain_fn fn,
                  void *ctx)
{
    /* Without pins nothing is written: the cast only lets one walk serve both. */
    struct retain_cursor c;
    cursor_init(&c, (struct retain_store *)rs, filter, len, false);
    uint32_t budget = UINT32_MAX;
    struct msg *m;
    for (;;) {
        enum retain_step r = retain_cursor_next(&c, &budget, &m);
        if (r == RETAIN_DONE) return;
        if (r == RETAIN_MSG)
            fn(ctx, m);
        else
            budget = UINT32_MAX;
    }
}
