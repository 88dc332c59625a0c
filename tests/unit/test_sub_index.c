/* A session's filter set: every filter set is found by its exact bytes and
 * by nothing else, with its latest QoS, across growth, shrinking and any mix
 * of adds and removes (checked against a plain list); iteration sees each
 * filter once; an emptied index holds no memory. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/session/sub_index.h"

/* A fixed key, so a failure reproduces. */
static const struct hash_key key = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};

static int qos_of(const struct sub_index *x, const char *f)
{
    const struct sub_filter *e = sub_index_find(x, &key, (const uint8_t *)f, strlen(f));
    if (!e) return -1;
    assert_int_equal(e->len, strlen(f));
    assert_memory_equal(e->bytes, f, e->len);
    return e->qos;
}

static int set(struct sub_index *x, const char *f, uint8_t qos)
{
    return sub_index_set(x, &key, (const uint8_t *)f, strlen(f), qos);
}

static bool del(struct sub_index *x, const char *f)
{
    return sub_index_remove(x, &key, (const uint8_t *)f, strlen(f));
}

static void test_empty_index(void **state)
{
    (void)state;
    struct sub_index x = {0};
    assert_int_equal(qos_of(&x, "a"), -1);
    assert_false(del(&x, "a"));
    uint32_t pos = 0;
    assert_null(sub_index_next(&x, &pos));
    sub_index_free(&x);
    assert_null(x.slots);
}

static void test_set_replace_remove_exact_bytes(void **state)
{
    (void)state;
    struct sub_index x = {0};
    char f[] = "a/+/c";
    assert_int_equal(set(&x, f, 1), 1);
    f[0] = 'X'; /* the index keeps its own copy */
    assert_int_equal(qos_of(&x, "a/+/c"), 1);
    assert_int_equal(qos_of(&x, "X/+/c"), -1);
    assert_int_equal(set(&x, "a", 0), 1);
    assert_int_equal(set(&x, "a/", 2), 1); /* not the same filter as "a" */
    assert_int_equal(set(&x, "a/+/c", 2), 0);
    assert_int_equal(x.count, 3);
    assert_int_equal(qos_of(&x, "a/+/c"), 2);
    assert_int_equal(qos_of(&x, "a/+"), -1);
    assert_true(del(&x, "a"));
    assert_false(del(&x, "a"));
    assert_int_equal(qos_of(&x, "a/"), 2);
    assert_true(del(&x, "a/"));
    assert_true(del(&x, "a/+/c"));
    assert_int_equal(x.count, 0);
    assert_null(x.slots); /* emptied: no table kept */
    assert_int_equal(set(&x, "again", 1), 1);
    assert_int_equal(qos_of(&x, "again"), 1);
    sub_index_free(&x);
}

static int name(char *buf, size_t cap, int i)
{
    return snprintf(buf, cap, "dev/%d/+/t", i);
}

/* 20,000 filters (one client at a high max_subscriptions_per_client): all
 * found, the table stays under 3/4 full, iteration sees each one once, and
 * removing them shrinks the table back to nothing. */
static void test_many_filters_grow_iterate_shrink(void **state)
{
    (void)state;
    enum { N = 20000 };
    struct sub_index x = {0};
    char f[32];
    for (int i = 0; i < N; i++) {
        name(f, sizeof(f), i);
        assert_int_equal(set(&x, f, (uint8_t)(i % 3)), 1);
    }
    assert_int_equal(x.count, N);
    assert_true(x.count * 4 <= x.cap * 3);
    for (int i = 0; i < N; i++) {
        name(f, sizeof(f), i);
        assert_int_equal(qos_of(&x, f), i % 3);
    }
    uint8_t *seen = calloc(N, 1);
    assert_non_null(seen);
    uint32_t pos = 0, walked = 0;
    for (struct sub_filter *e; (e = sub_index_next(&x, &pos)); walked++) {
        int i;
        assert_true(e->len < sizeof(f));
        memcpy(f, e->bytes, e->len);
        f[e->len] = '\0';
        assert_int_equal(sscanf(f, "dev/%d/", &i), 1);
        assert_true(i >= 0 && i < N);
        assert_int_equal(seen[i], 0);
        seen[i] = 1;
    }
    assert_int_equal(walked, N);
    free(seen);
    for (int i = 0; i < N - 10; i++) {
        name(f, sizeof(f), i);
        assert_true(del(&x, f));
    }
    assert_int_equal(x.count, 10);
    assert_true(x.cap <= 64); /* shrunk with the count */
    for (int i = N - 10; i < N; i++) {
        name(f, sizeof(f), i);
        assert_int_equal(qos_of(&x, f), i % 3);
    }
    assert_int_equal(qos_of(&x, "dev/0/+/t"), -1);
    sub_index_free(&x);
    assert_int_equal(x.count, 0);
}

/* Random adds, replaces and removes over a small pool, so probe runs wrap
 * around the table and deletions shift entries: after each operation the
 * index agrees with a plain array of QoS values (-1 = absent). */
static void test_random_ops_match_model(void **state)
{
    (void)state;
    enum { POOL = 700, OPS = 60000 };
    static int model[POOL];
    for (int i = 0; i < POOL; i++)
        model[i] = -1;
    struct sub_index x = {0};
    uint32_t rng = 12345, count = 0;
    char f[32];
    for (int op = 0; op < OPS; op++) {
        rng = rng * 1103515245u + 12345u;
        int i = (int)((rng >> 8) % POOL);
        snprintf(f, sizeof(f), "r/%d", i);
        if ((rng >> 20) % 3) {
            uint8_t q = (uint8_t)((rng >> 24) % 3);
            assert_int_equal(set(&x, f, q), model[i] < 0 ? 1 : 0);
            count += model[i] < 0;
            model[i] = q;
        } else {
            assert_int_equal(del(&x, f), model[i] >= 0);
            count -= model[i] >= 0;
            model[i] = -1;
        }
        assert_int_equal(x.count, count);
        if (op % 5000 == 0 || op == OPS - 1)
            for (int k = 0; k < POOL; k++) {
                snprintf(f, sizeof(f), "r/%d", k);
                assert_int_equal(qos_of(&x, f), model[k]);
            }
    }
    sub_index_free(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_index),
        cmocka_unit_test(test_set_replace_remove_exact_bytes),
        cmocka_unit_test(test_many_filters_grow_iterate_shrink),
        cmocka_unit_test(test_random_ops_match_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
