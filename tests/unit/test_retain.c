/* Retained-message store: one message per topic, replaced or erased by later
 * retained publishes, found by a new subscription's filter (wildcards and
 * the '$' rule included), checked against tables and a naive scan. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/route/retain.h"
#include "broker/hash.h"
#include "tests/unit/topic_oracle.h"

/* Tests hash under a fixed key, so a failure reproduces. */
static const struct hash_key test_key = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};

static struct msg *mk(const char *topic, const char *payload)
{
    struct msg *m = msg_new((const uint8_t *)topic, strlen(topic), (const uint8_t *)payload,
                            strlen(payload), 1, true);
    assert_non_null(m);
    return m;
}

/* Store a message and drop the test's own reference. */
static void put(struct retain_store *rs, const char *topic, const char *payload)
{
    struct msg *m = mk(topic, payload);
    assert_int_equal(retain_set(rs, m), 0);
    msg_unref(m);
}

struct found {
    size_t n;
    struct msg *v[64];
};

static void collect(void *ctx, struct msg *m)
{
    struct found *f = ctx;
    assert_true(f->n < 64);
    f->v[f->n++] = m;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* items[0..n) sorted and joined by '|'; frees the items. */
static void join_sorted(char **items, size_t n, char *out, size_t cap)
{
    qsort(items, n, sizeof(char *), cmp_str);
    out[0] = '\0';
    for (size_t i = 0, used = 0; i < n; i++) {
        used += (size_t)snprintf(out + used, cap - used, "%s%s", i ? "|" : "", items[i]);
        free(items[i]);
    }
}

/* The matching messages as "topic=payload|..." in sorted order. */
static void match_str(const struct retain_store *rs, const char *filter, char *out, size_t cap)
{
    struct found f = {0};
    retain_match(rs, (const uint8_t *)filter, strlen(filter), collect, &f);
    char *items[64];
    for (size_t i = 0; i < f.n; i++) {
        struct msg *m = f.v[i];
        assert_non_null(items[i] = malloc(m->topic_len + m->payload_len + 2));
        sprintf(items[i], "%.*s=%.*s", (int)m->topic_len, (const char *)m->topic,
                (int)m->payload_len, (const char *)m->payload);
    }
    join_sorted(items, f.n, out, cap);
}

static void test_set_and_replace_keeps_one_per_topic(void **state)
{
    (void)state;
    struct retain_store *rs = retain_new(&test_key);
    struct msg *m1 = mk("a/b", "one"), *m2 = mk("a/b", "two");
    assert_int_equal(retain_set(rs, m1), 0);
    assert_int_equal(m1->refs, 2); /* the store holds its own reference */
    assert_int_equal(retain_count(rs), 1);
    assert_int_equal(retain_set(rs, m2), 0);
    assert_int_equal(m1->refs, 1); /* the replaced message is released */
    assert_int_equal(m2->refs, 2);
    assert_int_equal(retain_count(rs), 1);
    assert_int_equal(retain_set(rs, m2), 0); /* setting the stored message again */
    assert_int_equal(m2->refs, 2);
    char got[128];
    match_str(rs, "a/b", got, sizeof(got));
    assert_string_equal(got, "a/b=two");
    msg_unref(m1);
    retain_free(rs);
    assert_int_equal(m2->refs, 1); /* freeing the store releases its references */
    msg_unref(m2);
}

/* MQTT-3.3.1-10: a retained publish with an empty payload erases the topic's
 * retained message. MQTT-3.3.1-11: and is not itself stored. */
static void test_empty_payload_deletes_MQTT_3_3_1_10_MQTT_3_3_1_11(void **state)
{
    (void)state;
    struct retain_store *rs = retain_new(&test_key);
    struct msg *m = mk("a/b", "x"), *empty = mk("a/b", ""), *empty2 = mk("c", "");
    assert_int_equal(retain_set(rs, m), 0);
    put(rs, "a/b/c", "deeper");
    put(rs, "a", "shallower");
    assert_int_equal(retain_count(rs), 3);

    assert_int_equal(retain_set(rs, empty), 0);
    assert_int_equal(m->refs, 1);
    assert_int_equal(empty->refs, 1);
    assert_int_equal(retain_count(rs), 2);
    char got[128];
    match_str(rs, "#", got, sizeof(got));
    assert_string_equal(got, "a/b/c=deeper|a=shallower");

    assert_int_equal(retain_set(rs, empty2), 0); /* nothing stored there: still no-op */
    assert_int_equal(empty2->refs, 1);
    assert_int_equal(retain_count(rs), 2);
    match_str(rs, "c", got, sizeof(got));
    assert_string_equal(got, "");

    /* Deleting the deepest topic leaves its ancestors' messages alone. */
    struct msg *del = mk("a/b/c", "");
    assert_int_equal(retain_set(rs, del), 0);
    match_str(rs, "#", got, sizeof(got));
    assert_string_equal(got, "a=shallower");
    put(rs, "a/b/c", "again");
    match_str(rs, "a/+/c", got, sizeof(got));
    assert_string_equal(got, "a/b/c=again");
    msg_unref(m);
    msg_unref(empty);
    msg_unref(empty2);
    msg_unref(del);
    retain_free(rs);
}

static const char *const stored[] = {
    "sport",
    "sport/tennis",
    "sport/tennis/player1",
    "sport/",
    "/finance",
    "finance",
    "$SYS",
    "$SYS/monitor/Clients",
    "a//b",
    "ACCOUNTS",
    "accounts",
    "caf\xc3\xa9",
    "x/$y",
};

struct filter_case {
    const char *filter;
    const char *expect; /* matching topics joined by '|', in any order */
};

static void check_filters(const struct filter_case *c, size_t n)
{
    struct retain_store *rs = retain_new(&test_key);
    for (size_t i = 0; i < sizeof(stored) / sizeof(stored[0]); i++)
        put(rs, stored[i], "p");
    char got[512], want[512];
    for (size_t i = 0; i < n; i++) {
        match_str(rs, c[i].filter, got, sizeof(got));
        char *items[64];
        size_t k = 0;
        for (const char *p = c[i].expect; *p; k++) { /* "t1|t2" -> "t1=p", "t2=p" */
            size_t l = strcspn(p, "|");
            assert_non_null(items[k] = malloc(l + 3));
            sprintf(items[k], "%.*s=p", (int)l, p);
            p += l + (p[l] == '|');
        }
        join_sorted(items, k, want, sizeof(want));
        if (strcmp(got, want) != 0)
            fail_msg("filter \"%s\": got \"%s\", want \"%s\"", c[i].filter, got, want);
    }
    retain_free(rs);
}

static void test_match_exact_and_wildcards(void **state)
{
    (void)state;
    static const struct filter_case c[] = {
        {"sport", "sport"},
        {"sport/tennis/player1", "sport/tennis/player1"},
        {"sport/#", "sport|sport/|sport/tennis|sport/tennis/player1"}, /* includes "sport" */
        {"sport/tennis/player1/#", "sport/tennis/player1"},
        {"sport/+", "sport/|sport/tennis"},
        {"+/+", "/finance|sport/|sport/tennis|x/$y"},
        {"/+", "/finance"},
        {"+", "accounts|ACCOUNTS|caf\xc3\xa9|finance|sport"},
        {"a/+/b", "a//b"},
        {"a//b", "a//b"},
        {"+/tennis/#", "sport/tennis|sport/tennis/player1"},
        {"nothing/here", ""},
        {"sport/tennis/+/x", ""},
    };
    check_filters(c, sizeof(c) / sizeof(c[0]));
}

/* MQTT-4.7.2-1: leading wildcards skip '$' topics; exact '$' levels and
 * '$' below the first level are found as usual. */
static void test_dollar_topics_MQTT_4_7_2_1(void **state)
{
    (void)state;
    static const struct filter_case c[] = {
        {"#", "/finance|a//b|accounts|ACCOUNTS|caf\xc3\xa9|finance|sport|sport/|sport/tennis|"
              "sport/tennis/player1|x/$y"},
        {"+/monitor/Clients", ""},
        {"+/#", "/finance|a//b|accounts|ACCOUNTS|caf\xc3\xa9|finance|sport|sport/|sport/tennis|"
                "sport/tennis/player1|x/$y"},
        {"$SYS/#", "$SYS|$SYS/monitor/Clients"},
        {"$SYS/monitor/+", "$SYS/monitor/Clients"},
        {"$SYS", "$SYS"},
        {"x/+", "x/$y"},
    };
    check_filters(c, sizeof(c) / sizeof(c[0]));
}

/* MQTT-4.7.3-4: no case folding or normalisation. */
static void test_raw_byte_matching_MQTT_4_7_3_4(void **state)
{
    (void)state;
    static const struct filter_case c[] = {
        {"accounts", "accounts"},       {"ACCOUNTS", "ACCOUNTS"}, {"Accounts", ""},
        {"caf\xc3\xa9", "caf\xc3\xa9"}, {"cafe\xcc\x81", ""},
    };
    check_filters(c, sizeof(c) / sizeof(c[0]));
}

struct counter {
    size_t calls;
    struct msg *last;
};

static void count_calls(void *ctx, struct msg *m)
{
    struct counter *c = ctx;
    c->calls++;
    c->last = m;
}

/* A new exact subscription must reach its one retained message without
 * touching the other 50,000; '+' reaches exactly the level it names. */
static void test_large_store_visits_only_matches(void **state)
{
    (void)state;
    enum { N = 50000 };
    struct retain_store *rs = retain_new(&test_key);
    char topic[64];
    for (int i = 0; i < N; i++) {
        snprintf(topic, sizeof(topic), "dev/%d/%s", i / 2, i % 2 ? "state" : "temp");
        put(rs, topic, "v");
    }
    assert_int_equal(retain_count(rs), N);

    struct counter c = {0};
    retain_match(rs, (const uint8_t *)"dev/12345/state", 15, count_calls, &c);
    assert_int_equal(c.calls, 1);
    assert_memory_equal(c.last->topic, "dev/12345/state", 15);

    c = (struct counter){0};
    retain_match(rs, (const uint8_t *)"dev/+/temp", 10, count_calls, &c);
    assert_int_equal(c.calls, N / 2);
    c = (struct counter){0};
    retain_match(rs, (const uint8_t *)"dev/777/#", 9, count_calls, &c);
    assert_int_equal(c.calls, 2);
    c = (struct counter){0};
    retain_match(rs, (const uint8_t *)"dev/12345/state/x", 17, count_calls, &c);
    assert_int_equal(c.calls, 0);

    for (int i = 0; i < N; i += 2) { /* erase every "temp" */
        snprintf(topic, sizeof(topic), "dev/%d/temp", i / 2);
        put(rs, topic, "");
    }
    assert_int_equal(retain_count(rs), N / 2);
    c = (struct counter){0};
    retain_match(rs, (const uint8_t *)"#", 1, count_calls, &c);
    assert_int_equal(c.calls, N / 2);
    retain_free(rs);
}

/* Topics and filters of 65535 bytes (32768 levels) must not exhaust the stack. */
static void test_deepest_topics(void **state)
{
    (void)state;
    enum { LEN = 65535 };
    char *topic = malloc(LEN + 1), *filter = malloc(LEN + 1);
    assert_non_null(topic && filter);
    for (size_t i = 0; i < LEN; i++) {
        topic[i] = i % 2 ? '/' : 'a';
        filter[i] = i % 2 ? '/' : '+';
    }
    topic[LEN] = filter[LEN] = '\0';
    struct retain_store *rs = retain_new(&test_key);
    put(rs, topic, "deep");
    put(rs, "a", "shallow");
    struct counter c = {0};
    retain_match(rs, (const uint8_t *)filter, LEN, count_calls, &c);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.last->payload_len, 4);
    c = (struct counter){0};
    retain_match(rs, (const uint8_t *)"#", 1, count_calls, &c);
    assert_int_equal(c.calls, 2);
    retain_free(rs);
    free(topic);
    free(filter);
}

/* --- randomized differential test against a naive scan of all topics --- */

static const char *const levels[] = {"a", "b", "", "$x", "B"};

static void random_name(uint64_t *rng, char *out, bool filter)
{
    size_t n = 1 + rng_next(rng) % 4, used = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned r = (unsigned)(rng_next(rng) % 7);
        const char *l = r < 5 ? levels[r] : filter ? "+" : levels[r - 5];
        if (filter && i == n - 1 && rng_next(rng) % 4 == 0) l = "#";
        used += (size_t)sprintf(out + used, "%s%s", i ? "/" : "", l);
    }
    if (!used) strcpy(out, "a"); /* an empty name or filter is invalid */
}

enum { MODEL_MAX = 1024 };

struct model {
    char topic[MODEL_MAX][32];
    struct msg *msg[MODEL_MAX]; /* the stored message (not owned), NULL if deleted */
    size_t n;
};

static size_t model_slot(struct model *m, const char *topic)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->topic[i], topic) == 0) return i;
    assert_true(m->n < MODEL_MAX);
    strcpy(m->topic[m->n], topic);
    m->msg[m->n] = NULL;
    return m->n++;
}

static size_t last_set; /* the model slot of random_set's last topic */

static void random_set(struct retain_store *rs, struct model *m, uint64_t *rng)
{
    char topic[32];
    random_name(rng, topic, false);
    bool erase = rng_next(rng) % 4 == 0;
    struct msg *msg = mk(topic, erase ? "" : "x");
    assert_int_equal(retain_set(rs, msg), 0);
    last_set = model_slot(m, topic);
    m->msg[last_set] = erase ? NULL : msg;
    msg_unref(msg);
}

struct seen {
    size_t n;
    struct msg *v[MODEL_MAX];
};

static void collect_seen(void *ctx, struct msg *msg)
{
    struct seen *s = ctx;
    assert_true(s->n < MODEL_MAX);
    s->v[s->n++] = msg;
}

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
    return (x > y) - (x < y);
}

static void compare_one_filter(const struct retain_store *rs, const struct model *m,
                               const char *filter, struct seen *want, struct seen *got)
{
    want->n = got->n = 0;
    for (size_t i = 0; i < m->n; i++)
        if (m->msg[i] && naive_match(filter, m->topic[i])) want->v[want->n++] = m->msg[i];
    retain_match(rs, (const uint8_t *)filter, strlen(filter), collect_seen, got);
    qsort(want->v, want->n, sizeof(void *), cmp_ptr);
    qsort(got->v, got->n, sizeof(void *), cmp_ptr);
    if (got->n != want->n || memcmp(got->v, want->v, want->n * sizeof(void *)) != 0)
        fail_msg("filter \"%s\": %zu messages, want %zu", filter, got->n, want->n);
}

static void test_random_against_naive_scan(void **state)
{
    (void)state;
    uint64_t rng = 0x2545f4914f6cdd1dull;
    struct model *m = calloc(1, sizeof(*m));
    struct seen *want = malloc(sizeof(*want)), *got = malloc(sizeof(*got));
    struct retain_store *rs = retain_new(&test_key);
    assert_non_null(m && want && got && rs);
    char filter[32];
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 400; i++)
            random_set(rs, m, &rng);
        size_t live = 0;
        for (size_t i = 0; i < m->n; i++)
            live += m->msg[i] != NULL;
        assert_int_equal(retain_count(rs), live);
        for (int i = 0; i < 400; i++) {
            random_name(&rng, filter, true);
            compare_one_filter(rs, m, filter, want, got);
        }
    }
    retain_free(rs);
    free(m);
    free(want);
    free(got);
}

/* --- the resumable cursor --- */

/* Stepped one node visit at a time, a cursor finds what retain_match finds. */
static void test_cursor_budget_one_equals_match(void **state)
{
    (void)state;
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    struct model *m = calloc(1, sizeof(*m));
    struct seen *want = malloc(sizeof(*want)), *got = malloc(sizeof(*got));
    struct retain_store *rs = retain_new(&test_key);
    assert_non_null(m && want && got && rs);
    for (int i = 0; i < 600; i++)
        random_set(rs, m, &rng);
    char filter[32];
    for (int i = 0; i < 400; i++) {
        random_name(&rng, filter, true);
        want->n = got->n = 0;
        retain_match(rs, (const uint8_t *)filter, strlen(filter), collect_seen, want);
        struct retain_cursor *c = retain_cursor_new(rs, (const uint8_t *)filter, strlen(filter));
        assert_non_null(c);
        struct msg *msg;
        enum retain_step r;
        uint32_t budget = 1;
        while ((r = retain_cursor_next(c, &budget, &msg)) != RETAIN_DONE) {
            if (r == RETAIN_MSG) collect_seen(got, msg);
            budget = 1;
        }
        assert_int_equal(retain_cursor_next(c, &budget, &msg), RETAIN_DONE);
        retain_cursor_free(c);
        qsort(want->v, want->n, sizeof(void *), cmp_ptr);
        qsort(got->v, got->n, sizeof(void *), cmp_ptr);
        if (got->n != want->n || memcmp(got->v, want->v, want->n * sizeof(void *)) != 0)
            fail_msg("filter \"%s\": cursor %zu messages, match %zu", filter, got->n, want->n);
    }
    retain_free(rs);
    free(m);
    free(want);
    free(got);
}

/* Walk on with an ample budget, appending the reported topics to out. */
static enum retain_step step_topic(struct retain_cursor *c, char *out, size_t cap)
{
    uint32_t budget = 1000;
    struct msg *m;
    enum retain_step r = retain_cursor_next(c, &budget, &m);
    if (r == RETAIN_MSG)
        snprintf(out + strlen(out), cap - strlen(out), "%s%.*s", *out ? "|" : "", (int)m->topic_len,
                 (const char *)m->topic);
    return r;
}

/* The node a cursor stands on is erased, then its siblings and its whole
 * subtree: the walk goes on with what is left, and nothing leaks. */
static void test_cursor_survives_erasing_where_it_stands(void **state)
{
    (void)state;
    struct retain_store *rs = retain_new(&test_key);
    /* Listed newest first: c, b/y, b/x, b, a. */
    const char *topics[] = {"t/a", "t/b", "t/b/x", "t/b/y", "t/c"};
    for (size_t i = 0; i < 5; i++)
        put(rs, topics[i], "v");
    struct retain_cursor *c = retain_cursor_new(rs, (const uint8_t *)"t/#", 3);
    char got[256] = "";
    while (!strstr(got, "t/b")) /* now standing on t/b's first child */
        assert_int_not_equal(step_topic(c, got, sizeof got), RETAIN_DONE);
    struct msg *m;
    uint32_t budget = 0;
    assert_int_equal(retain_cursor_next(c, &budget, &m), RETAIN_MORE);
    put(rs, "t/b/y", ""); /* where it stands (t/b/y, the newest child) */
    put(rs, "t/b/x", "");
    put(rs, "t/b", "");
    put(rs, "t/a", "");      /* a later sibling of t/b */
    put(rs, "t/b/new", "n"); /* in a subtree now gone and back */
    put(rs, "t/d", "late");  /* before the cursor: not reached */
    while (step_topic(c, got, sizeof got) != RETAIN_DONE)
        continue;
    assert_string_equal(got,
                        "t/c|t/b"); /* the erased ones and those added before it: not reached */
    retain_cursor_free(c);
    assert_int_equal(retain_count(rs), 3);
    char all[256];
    match_str(rs, "#", all, sizeof all);
    assert_string_equal(all, "t/b/new=n|t/c=v|t/d=late");
    put(rs, "t/b/new", "");
    put(rs, "t/c", "");
    put(rs, "t/d", "");
    assert_int_equal(retain_count(rs), 0);
    retain_free(rs);
}

/* The store changes between every two steps (sets, erasures that free the
 * nodes around and under the cursor, new siblings): each report matches the
 * filter, no topic comes twice, and every matching topic left untouched for
 * the whole walk comes once. Run under ASan, this also checks that no freed
 * node is touched and none leaks. */
static void test_cursor_under_concurrent_changes(void **state)
{
    (void)state;
    uint64_t rng = 0xda942042e4dd58b5ull;
    struct model *m = calloc(1, sizeof(*m));
    struct retain_store *rs = retain_new(&test_key);
    assert_non_null(m && rs);
    char filter[32], topic[32];
    for (int round = 0; round < 300; round++) {
        for (int i = 0; i < 40; i++)
            random_set(rs, m, &rng);
        random_name(&rng, filter, true);
        bool touched[MODEL_MAX] = {false}, reported[MODEL_MAX] = {false};
        struct retain_cursor *c = retain_cursor_new(rs, (const uint8_t *)filter, strlen(filter));
        assert_non_null(c);
        struct msg *msg;
        enum retain_step r;
        uint32_t budget = 1;
        while ((r = retain_cursor_next(c, &budget, &msg)) != RETAIN_DONE) {
            if (r == RETAIN_MSG) {
                snprintf(topic, sizeof topic, "%.*s", (int)msg->topic_len,
                         (const char *)msg->topic);
                size_t k = model_slot(m, topic);
                assert_ptr_equal(m->msg[k], msg);
                assert_true(naive_match(filter, topic));
                assert_false(reported[k]);
                reported[k] = true;
            }
            random_set(rs, m, &rng);
            touched[last_set] = true;
            budget = 1;
        }
        for (size_t k = 0; k < m->n; k++)
            if (!touched[k] && m->msg[k] && naive_match(filter, m->topic[k]) && !reported[k])
                fail_msg("filter \"%s\": \"%s\" never reported", filter, m->topic[k]);
        retain_cursor_free(c);
    }
    retain_free(rs);
    free(m);
}

static size_t count_matches(const struct retain_store *rs, const char *filter)
{
    struct found f = {0};
    retain_match(rs, (const uint8_t *)filter, strlen(filter), collect, &f);
    return f.n;
}

/* The store counts its memory (every level's node and every message) and
 * gives all of it back when emptied; a deep topic costs for every level. */
static void test_bytes_follow_what_is_stored(void **state)
{
    (void)state;
    struct retain_store *rs = retain_new(&test_key);
    assert_true(retain_bytes(rs) == 0);
    put(rs, "a/b", "x");
    uint64_t shallow = retain_bytes(rs);
    assert_true(shallow > 3);
    char deep[200];
    for (int i = 0; i < 100; i++) {
        deep[2 * i] = 'd';
        deep[2 * i + 1] = '/';
    }
    deep[199] = '\0';
    put(rs, deep, "x");
    assert_true(retain_bytes(rs) - shallow > 100 * 40); /* 100 nodes at least */
    put(rs, "a/b", "a longer payload than before");
    put(rs, "a/b", "");
    put(rs, deep, "");
    assert_true(retain_bytes(rs) == 0);
    assert_int_equal(retain_count(rs), 0);
    retain_free(rs);
}

/* Past limits.max_retained_bytes a new topic is refused and the store stays
 * as it was; replacing a stored message within the bound still works, and
 * deleting makes room again. */
static void test_byte_bound_refuses_new_topics(void **state)
{
    (void)state;
    struct retain_store *rs = retain_new(&test_key);
    put(rs, "k/0", "payload");
    retain_set_max_bytes(rs, retain_bytes(rs) * 3);
    int stored = 1;
    char topic[16];
    for (int i = 1; i < 10; i++) {
        snprintf(topic, sizeof topic, "k/%d", i);
        struct msg *m = mk(topic, "payload");
        uint64_t before = retain_bytes(rs);
        int r = retain_set(rs, m);
        if (r == 0) {
            stored++;
        } else {
            assert_int_equal(r, RETAIN_FULL);
            assert_true(retain_bytes(rs) == before);
        }
        msg_unref(m);
    }
    assert_true(stored >= 2 && stored < 10);
    assert_int_equal(retain_count(rs), (size_t)stored);
    assert_int_equal(count_matches(rs, "k/#"), (size_t)stored);
    put(rs, "k/0", "newer"); /* replacing, smaller: fits */
    struct msg *refused = mk("elsewhere/deep/topic", "payload");
    assert_int_equal(retain_set(rs, refused), RETAIN_FULL);
    assert_int_equal(count_matches(rs, "elsewhere/#"), 0);
    for (int i = 0; i < 10; i++) { /* deleting makes room again */
        snprintf(topic, sizeof topic, "k/%d", i);
        put(rs, topic, "");
    }
    assert_int_equal(retain_set(rs, refused), 0);
    msg_unref(refused);
    retain_free(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_and_replace_keeps_one_per_topic),
        cmocka_unit_test(test_empty_payload_deletes_MQTT_3_3_1_10_MQTT_3_3_1_11),
        cmocka_unit_test(test_match_exact_and_wildcards),
        cmocka_unit_test(test_dollar_topics_MQTT_4_7_2_1),
        cmocka_unit_test(test_raw_byte_matching_MQTT_4_7_3_4),
        cmocka_unit_test(test_large_store_visits_only_matches),
        cmocka_unit_test(test_deepest_topics),
        cmocka_unit_test(test_random_against_naive_scan),
        cmocka_unit_test(test_cursor_budget_one_equals_match),
        cmocka_unit_test(test_cursor_survives_erasing_where_it_stands),
        cmocka_unit_test(test_cursor_under_concurrent_changes),
        cmocka_unit_test(test_bytes_follow_what_is_stored),
        cmocka_unit_test(test_byte_bound_refuses_new_topics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
