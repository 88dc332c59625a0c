/* Router trie: which (subscriber, QoS) pairs a published topic reaches,
 * checked against tables from the spec's examples and, at random, against
 * a naive list-of-filters matcher. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <malloc.h>
#include <string.h>

#include "broker/route/trie.h"
#include "broker/hash.h"
#include "protocol/mqtt.h"
#include "tests/unit/topic_oracle.h"

/* Tests hash under a fixed key, so a failure reproduces. */
static const struct hash_key test_key = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};

/* Fake subscribers: the trie never dereferences them. */
static char subs[8];
#define SUB(i) ((void *)&subs[i])

struct sub_spec {
    const char *filter;
    int who; /* index into subs, printed as 'A' + who */
    uint8_t qos;
};

struct match_case {
    const char *topic;
    const char *expect; /* sorted "A1 B0 ...", "" for none */
};

struct hits {
    size_t n;
    int v[64]; /* who * 4 + qos */
};

static void collect(void *ctx, void *sub, uint8_t qos)
{
    struct hits *h = ctx;
    assert_true(h->n < 64);
    h->v[h->n++] = (int)((char *)sub - subs) * 4 + qos;
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

static void match_str(const struct trie *t, const char *topic, char *out, size_t cap)
{
    struct hits h = {0};
    trie_match(t, (const uint8_t *)topic, strlen(topic), collect, &h);
    qsort(h.v, h.n, sizeof(int), cmp_int);
    out[0] = '\0';
    for (size_t i = 0, used = 0; i < h.n; i++)
        used += (size_t)snprintf(out + used, cap - used, "%s%c%d", i ? " " : "", 'A' + h.v[i] / 4,
                                 h.v[i] % 4);
}

static struct trie *trie_with(const struct sub_spec *s, size_t n)
{
    struct trie *t = trie_new(&test_key);
    assert_non_null(t);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(trie_subscribe(t, (const uint8_t *)s[i].filter, strlen(s[i].filter),
                                        SUB(s[i].who), s[i].qos),
                         1);
    assert_int_equal(trie_count(t), n);
    return t;
}

static void check_table(const struct sub_spec *s, size_t ns, const struct match_case *c, size_t nc)
{
    struct trie *t = trie_with(s, ns);
    char got[256];
    for (size_t i = 0; i < nc; i++) {
        match_str(t, c[i].topic, got, sizeof(got));
        if (strcmp(got, c[i].expect) != 0)
            fail_msg("topic \"%s\": got \"%s\", want \"%s\"", c[i].topic, got, c[i].expect);
    }
    trie_free(t);
}

#define CHECK_TABLE(s, c) check_table(s, sizeof(s) / sizeof(s[0]), c, sizeof(c) / sizeof(c[0]))

/* Spec 4.7.1.2 examples for the multi-level wildcard. */
static void test_hash_wildcard_spec_examples(void **state)
{
    (void)state;
    static const struct sub_spec s[] = {
        {"sport/tennis/player1/#", 0, 1},
        {"sport/#", 1, 0},
        {"sport/tennis/#", 2, 2},
        {"#", 3, 1},
    };
    static const struct match_case c[] = {
        {"sport/tennis/player1", "A1 B0 C2 D1"},
        {"sport/tennis/player1/ranking", "A1 B0 C2 D1"},
        {"sport/tennis/player1/score/wimbledon", "A1 B0 C2 D1"},
        {"sport/tennis", "B0 C2 D1"},
        {"sport", "B0 D1"}, /* '#' also matches the parent level */
        {"sport/", "B0 D1"},
        {"sports", "D1"},
        {"tennis/sport", "D1"},
        {"/", "D1"},
    };
    CHECK_TABLE(s, c);
}

/* Spec 4.7.1.3 examples for the single-level wildcard. */
static void test_plus_wildcard_spec_examples(void **state)
{
    (void)state;
    static const struct sub_spec s[] = {
        {"sport/+", 0, 0},        {"+/+", 1, 1},        {"/+", 2, 2}, {"+", 3, 0},
        {"sport/tennis/+", 4, 1}, {"+/tennis/#", 5, 2},
    };
    static const struct match_case c[] = {
        {"sport", "D0"},
        {"sport/", "A0 B1"},
        {"sport/tennis", "A0 B1 F2"},
        {"sport/tennis/player1", "E1 F2"},
        {"/finance", "B1 C2"},
        {"finance", "D0"},
        {"a/b/c", ""},
        {"x/tennis", "B1 F2"},
    };
    CHECK_TABLE(s, c);
}

/* MQTT-4.7.2-1: a leading wildcard never matches a topic starting with '$'. */
static void test_dollar_topics_MQTT_4_7_2_1(void **state)
{
    (void)state;
    static const struct sub_spec s[] = {
        {"#", 0, 0},      {"+/monitor/Clients", 1, 0},
        {"$SYS/#", 2, 1}, {"$SYS/monitor/+", 3, 2},
        {"+/+/+", 4, 0},  {"+", 5, 0},
        {"+/#", 6, 1},
    };
    static const struct match_case c[] = {
        {"$SYS/monitor/Clients", "C1 D2"},
        {"x/monitor/Clients", "A0 B0 E0 G1"},
        {"$SYS", "C1"},
        {"$", ""},
        {"a/$SYS/b", "A0 E0 G1"}, /* '$' only matters at the first level */
        {"SYS$", "A0 F0 G1"},
    };
    CHECK_TABLE(s, c);
}

/* Levels may be empty: leading, trailing and in the middle. */
static void test_empty_levels(void **state)
{
    (void)state;
    static const struct sub_spec s[] = {
        {"a//b", 0, 0}, {"a/+/b", 1, 0}, {"+//+", 2, 0}, {"a/#", 3, 0}, {"/", 4, 0}, {"//", 5, 0},
    };
    static const struct match_case c[] = {
        {"a//b", "A0 B0 C0 D0"}, {"a/x/b", "B0 D0"}, {"a/b", "D0"}, {"/", "E0"},
        {"//", "C0 F0"},         {"a//", "C0 D0"},   {"a", "D0"},
    };
    CHECK_TABLE(s, c);
}

/* MQTT-4.7.3-4: levels are compared byte for byte, no case folding or
 * Unicode normalisation. */
static void test_raw_byte_matching_MQTT_4_7_3_4(void **state)
{
    (void)state;
    static const struct sub_spec s[] = {
        {"accounts", 0, 0},       {"ACCOUNTS", 1, 0},
        {"caf\xc3\xa9/+", 2, 0},  /* precomposed e-acute */
        {"cafe\xcc\x81/#", 3, 0}, /* e + combining acute */
        {"Accounts/#", 4, 0},
    };
    static const struct match_case c[] = {
        {"accounts", "A0"},      {"ACCOUNTS", "B0"},       {"Accounts", "E0"},    {"aCCOUNTS", ""},
        {"caf\xc3\xa9/x", "C0"}, {"cafe\xcc\x81/x", "D0"}, {"caf\xc3\x89/x", ""}, {"cafe/x", ""},
    };
    CHECK_TABLE(s, c);
}

/* De-duplication is the broker's job: each matching filter is reported. */
static void test_overlapping_filters_each_reported(void **state)
{
    (void)state;
    static const struct sub_spec s[] = {
        {"a/b", 0, 0}, {"a/+", 0, 1}, {"#", 0, 2}, {"a/#", 0, 1}, {"+/b", 1, 0},
    };
    static const struct match_case c[] = {
        {"a/b", "A0 A1 A1 A2 B0"},
        {"a/c", "A1 A1 A2"},
        {"a", "A1 A2"},
    };
    CHECK_TABLE(s, c);
}

static void test_resubscribe_replaces_qos(void **state)
{
    (void)state;
    struct trie *t = trie_new(&test_key);
    const uint8_t *f = (const uint8_t *)"a/+";
    assert_int_equal(trie_subscribe(t, f, 3, SUB(0), 0), 1);
    assert_int_equal(trie_subscribe(t, f, 3, SUB(1), 1), 1);
    assert_int_equal(trie_subscribe(t, f, 3, SUB(0), 2), 0);
    assert_int_equal(trie_count(t), 2);
    char got[64];
    match_str(t, "a/x", got, sizeof(got));
    assert_string_equal(got, "A2 B1");
    trie_free(t);
}

/* MQTT-3.10.4-1: unsubscribe removes only the exact (filter, subscriber). */
static void test_unsubscribe_exact_only_MQTT_3_10_4_1(void **state)
{
    (void)state;
    static const struct sub_spec s[] = {
        {"a/b", 0, 0},
        {"a/+", 0, 1},
        {"a/b", 1, 2},
        {"a/b/c", 0, 0},
    };
    struct trie *t = trie_with(s, 4);
    char got[64];
    assert_false(trie_unsubscribe(t, (const uint8_t *)"a/#", 3, SUB(0)));
    assert_false(trie_unsubscribe(t, (const uint8_t *)"a", 1, SUB(0))); /* inner node */
    assert_false(trie_unsubscribe(t, (const uint8_t *)"a/+", 3, SUB(1)));
    assert_false(trie_unsubscribe(t, (const uint8_t *)"A/+", 3, SUB(0)));
    assert_int_equal(trie_count(t), 4);

    assert_true(trie_unsubscribe(t, (const uint8_t *)"a/+", 3, SUB(0)));
    assert_false(trie_unsubscribe(t, (const uint8_t *)"a/+", 3, SUB(0)));
    assert_int_equal(trie_count(t), 3);
    match_str(t, "a/b", got, sizeof(got));
    assert_string_equal(got, "A0 B2");
    match_str(t, "a/x", got, sizeof(got));
    assert_string_equal(got, "");

    /* Removing a prefix filter leaves the longer one reachable. */
    assert_true(trie_unsubscribe(t, (const uint8_t *)"a/b", 3, SUB(0)));
    assert_true(trie_unsubscribe(t, (const uint8_t *)"a/b", 3, SUB(1)));
    match_str(t, "a/b/c", got, sizeof(got));
    assert_string_equal(got, "A0");
    assert_true(trie_unsubscribe(t, (const uint8_t *)"a/b/c", 5, SUB(0)));
    assert_int_equal(trie_count(t), 0);
    match_str(t, "a/b/c", got, sizeof(got));
    assert_string_equal(got, "");

    /* The emptied (pruned) path can be used again. */
    assert_int_equal(trie_subscribe(t, (const uint8_t *)"a/b/c", 5, SUB(2), 1), 1);
    match_str(t, "a/b/c", got, sizeof(got));
    assert_string_equal(got, "C1");
    trie_free(t);
}

/* Filters and topics of 65535 bytes (32768 levels) must not exhaust the
 * stack, in matching or in freeing. */
static void test_deepest_filters(void **state)
{
    (void)state;
    enum { LEN = 65535 };
    char *exact = malloc(LEN + 1), *plus = malloc(LEN + 1), *hash = malloc(LEN + 1);
    assert_non_null(exact && plus && hash);
    for (size_t i = 0; i < LEN; i++) {
        exact[i] = i % 2 ? '/' : 'a';
        plus[i] = i % 2 ? '/' : '+';
    }
    exact[LEN] = plus[LEN] = '\0';
    memcpy(hash, exact, LEN + 1);
    hash[LEN - 1] = '#';

    struct trie *t = trie_new(&test_key);
    assert_int_equal(trie_subscribe(t, (const uint8_t *)exact, LEN, SUB(0), 0), 1);
    assert_int_equal(trie_subscribe(t, (const uint8_t *)plus, LEN, SUB(1), 1), 1);
    assert_int_equal(trie_subscribe(t, (const uint8_t *)hash, LEN, SUB(2), 2), 1);
    char got[64];
    match_str(t, exact, got, sizeof(got));
    assert_string_equal(got, "A0 B1 C2");
    exact[LEN - 1] = 'b';
    match_str(t, exact, got, sizeof(got));
    assert_string_equal(got, "B1 C2");
    assert_true(trie_unsubscribe(t, (const uint8_t *)plus, LEN, SUB(1)));
    match_str(t, exact, got, sizeof(got));
    assert_string_equal(got, "C2");
    trie_free(t);
    free(exact);
    free(plus);
    free(hash);
}

/* --- randomized differential test against a naive list of filters --- */

static const char *const levels[] = {"a", "b", "", "$x", "A"};

static void random_topic(uint64_t *rng, char *out, bool filter)
{
    size_t n = 1 + rng_next(rng) % 4, used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        unsigned r = (unsigned)(rng_next(rng) % 8);
        const char *l = r < 5 ? levels[r] : "+";
        if (!filter && r >= 5) l = levels[r - 5];
        if (filter && i == n - 1 && rng_next(rng) % 4 == 0) l = "#";
        used += (size_t)sprintf(out + used, "%s%s", i ? "/" : "", l);
    }
    if (!out[0]) strcpy(out, "a"); /* an empty name or filter is invalid */
}

enum { NSUBS = 40, MODEL_MAX = 2000 };
static char many_subs[NSUBS];

struct model_sub {
    char filter[32];
    int who;
    uint8_t qos;
};

struct model {
    struct model_sub v[MODEL_MAX];
    size_t n;
};

static size_t model_find(const struct model *m, const char *filter, int who)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->v[i].who == who && strcmp(m->v[i].filter, filter) == 0) return i;
    return m->n;
}

struct big_hits {
    size_t n;
    int v[MODEL_MAX];
};

static void collect_big(void *ctx, void *sub, uint8_t qos)
{
    struct big_hits *h = ctx;
    assert_true(h->n < MODEL_MAX);
    h->v[h->n++] = (int)((char *)sub - many_subs) * 4 + qos;
}

static void random_subscribe(struct trie *t, struct model *m, uint64_t *rng)
{
    struct model_sub s;
    random_topic(rng, s.filter, true);
    s.who = (int)(rng_next(rng) % NSUBS);
    s.qos = (uint8_t)(rng_next(rng) % 3);
    size_t i = model_find(m, s.filter, s.who);
    int want = i == m->n ? 1 : 0;
    assert_int_equal(
        trie_subscribe(t, (const uint8_t *)s.filter, strlen(s.filter), &many_subs[s.who], s.qos),
        want);
    m->v[i] = s;
    if (want) m->n++;
}

static void random_unsubscribe(struct trie *t, struct model *m, uint64_t *rng)
{
    char filter[32];
    int who;
    if (m->n && rng_next(rng) % 2) { /* mostly existing pairs, sometimes random ones */
        size_t i = rng_next(rng) % m->n;
        strcpy(filter, m->v[i].filter);
        who = m->v[i].who;
    } else {
        random_topic(rng, filter, true);
        who = (int)(rng_next(rng) % NSUBS);
    }
    size_t i = model_find(m, filter, who);
    assert_int_equal(trie_unsubscribe(t, (const uint8_t *)filter, strlen(filter), &many_subs[who]),
                     i < m->n);
    if (i < m->n) m->v[i] = m->v[--m->n];
}

static void compare_one_topic(const struct trie *t, const struct model *m, const char *topic,
                              struct big_hits *want, struct big_hits *got)
{
    want->n = got->n = 0;
    for (size_t i = 0; i < m->n; i++) {
        bool match = naive_match(m->v[i].filter, topic);
        /* The oracle itself is checked against protocol/'s reference matcher. */
        assert_int_equal(match,
                         mqtt_topic_matches((const uint8_t *)m->v[i].filter, strlen(m->v[i].filter),
                                            (const uint8_t *)topic, strlen(topic)));
        if (match) want->v[want->n++] = m->v[i].who * 4 + m->v[i].qos;
    }
    trie_match(t, (const uint8_t *)topic, strlen(topic), collect_big, got);
    qsort(want->v, want->n, sizeof(int), cmp_int);
    qsort(got->v, got->n, sizeof(int), cmp_int);
    if (got->n != want->n || memcmp(got->v, want->v, want->n * sizeof(int)) != 0)
        fail_msg("topic \"%s\": %zu matches, want %zu", topic, got->n, want->n);
}

static void test_random_against_naive_matcher(void **state)
{
    (void)state;
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    struct model *m = calloc(1, sizeof(*m));
    struct big_hits *want = malloc(sizeof(*want)), *got = malloc(sizeof(*got));
    struct trie *t = trie_new(&test_key);
    assert_non_null(m && want && got && t);
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 1000 && m->n < MODEL_MAX; i++) {
            random_subscribe(t, m, &rng);
            if (rng_next(&rng) % 3 == 0) random_unsubscribe(t, m, &rng);
        }
        assert_int_equal(trie_count(t), m->n);
        char topic[32];
        for (int i = 0; i < 500; i++) {
            random_topic(&rng, topic, false);
            compare_one_topic(t, m, topic, want, got);
        }
    }
    for (size_t left = m->n; left > 0; left--) {
        const struct model_sub *s = &m->v[left - 1];
        assert_true(
            trie_unsubscribe(t, (const uint8_t *)s->filter, strlen(s->filter), &many_subs[s->who]));
    }
    assert_int_equal(trie_count(t), 0);
    trie_free(t);
    free(m);
    free(want);
    free(got);
}

/* One popular node: 100k subscribers on "sensors/+", removed in random order.
 * The survivors must keep exactly their own QoS. */
struct churn_hits {
    uint8_t *seen; /* per subscriber: 0 unseen, else qos + 1 */
    size_t n;
    char *base;
};

static void collect_churn(void *ctx, void *sub, uint8_t qos)
{
    struct churn_hits *h = ctx;
    size_t i = (size_t)((char *)sub - h->base);
    assert_int_equal(h->seen[i], 0);
    h->seen[i] = (uint8_t)(qos + 1);
    h->n++;
}

static void test_popular_node_churn(void **state)
{
    (void)state;
    enum { N = 100000 };
    char *base = malloc(N);
    uint32_t *order = malloc(N * sizeof(*order));
    struct churn_hits h = {calloc(N, 1), 0, base};
    struct trie *t = trie_new(&test_key);
    assert_non_null(base && order && h.seen && t);
    const uint8_t *f = (const uint8_t *)"sensors/+";
    for (uint32_t i = 0; i < N; i++) {
        assert_int_equal(trie_subscribe(t, f, 9, base + i, (uint8_t)(i % 3)), 1);
        order[i] = i;
    }
    uint64_t rng = 12345;
    for (uint32_t i = N - 1; i > 0; i--) { /* Fisher-Yates */
        uint32_t j = (uint32_t)(rng_next(&rng) % (i + 1)), tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    for (uint32_t i = 0; i < N / 2; i++)
        assert_true(trie_unsubscribe(t, f, 9, base + order[i]));
    for (uint32_t i = N / 2; i < N / 2 + 1000; i++) /* resubscribe survivors */
        assert_int_equal(trie_subscribe(t, f, 9, base + order[i], 2), 0);
    assert_int_equal(trie_count(t), N / 2);

    trie_match(t, (const uint8_t *)"sensors/t1", 10, collect_churn, &h);
    assert_int_equal(h.n, N / 2);
    for (uint32_t i = 0; i < N; i++) {
        uint32_t s = order[i];
        int want = i < N / 2 ? 0 : i < N / 2 + 1000 ? 3 : (int)(s % 3) + 1;
        assert_int_equal(h.seen[s], want);
    }
    for (uint32_t i = N / 2; i < N; i++)
        assert_true(trie_unsubscribe(t, f, 9, base + order[i]));
    assert_int_equal(trie_count(t), 0);
    trie_free(t);
    free(base);
    free(order);
    free(h.seen);
}

/* Memory is what a deep filter costs: a 128-level filter (the default
 * limits.max_topic_levels) of one-byte levels stays under 80 heap bytes per
 * level, allocator overhead included, and all of it comes back on
 * unsubscribe. (Heap statistics are the allocator's: not under ASan.) */
static void test_cost_per_level(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    skip();
#else
    struct trie *t = trie_new(&test_key);
    char filter[2 * 128];
    for (int i = 0; i < 128; i++) {
        filter[2 * i] = (char)('a' + i % 26);
        filter[2 * i + 1] = '/';
    }
    filter[2 * 128 - 1] = '\0';
    size_t before = mallinfo2().uordblks;
    assert_int_equal(trie_subscribe(t, (const uint8_t *)filter, strlen(filter), subs, 1), 1);
    size_t used = mallinfo2().uordblks - before;
    assert_true(used < 128 * 80);
    assert_true(trie_unsubscribe(t, (const uint8_t *)filter, strlen(filter), subs));
    assert_int_equal(mallinfo2().uordblks, before);
    trie_free(t);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_wildcard_spec_examples),
        cmocka_unit_test(test_plus_wildcard_spec_examples),
        cmocka_unit_test(test_dollar_topics_MQTT_4_7_2_1),
        cmocka_unit_test(test_empty_levels),
        cmocka_unit_test(test_raw_byte_matching_MQTT_4_7_3_4),
        cmocka_unit_test(test_overlapping_filters_each_reported),
        cmocka_unit_test(test_resubscribe_replaces_qos),
        cmocka_unit_test(test_unsubscribe_exact_only_MQTT_3_10_4_1),
        cmocka_unit_test(test_deepest_filters),
        cmocka_unit_test(test_random_against_naive_matcher),
        cmocka_unit_test(test_popular_node_churn),
        cmocka_unit_test(test_cost_per_level),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
