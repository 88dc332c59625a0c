/* Session table (MQTT-3.1.3-2: the client id identifies the session): every
 * inserted session is found by its exact id bytes and by nothing else, across
 * growth, near-identical ids and ids with embedded NUL bytes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/session/session_table.h"

static const struct session_table keyed = {.key = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull}};

static struct session *make(const void *id, size_t len)
{
    struct session *s = session_new(id, len, session_id_hash(&keyed, id, len));
    assert_non_null(s);
    return s;
}

static struct session *find(const struct session_table *t, const void *id, size_t len)
{
    return session_table_find(t, id, len, session_id_hash(&keyed, id, len));
}

static void test_empty_table(void **state)
{
    (void)state;
    struct session_table t = {0};
    assert_null(find(&t, "a", 1));
    struct session *s = make("a", 1);
    session_table_remove(&t, s); /* not in it: no effect */
    assert_int_equal(t.count, 0);
    session_table_free(&t);
    session_free(s);
}

/* MQTT-3.1.3-2 */
static void test_many_ids_with_growth_MQTT_3_1_3_2(void **state)
{
    (void)state;
    enum { N = 10000 };
    struct session_table t = {0};
    struct session **s = calloc(N, sizeof(*s));
    assert_non_null(s);
    char id[32];
    for (int i = 0; i < N; i++) {
        int n = snprintf(id, sizeof(id), "client-%d", i);
        s[i] = make(id, (size_t)n);
        assert_int_equal(session_table_insert(&t, s[i]), 0);
    }
    assert_int_equal(t.count, N);
    for (int i = 0; i < N; i++) {
        int n = snprintf(id, sizeof(id), "client-%d", i);
        assert_ptr_equal(find(&t, id, (size_t)n), s[i]);
    }
    assert_null(find(&t, "client-10000", 12));
    assert_null(find(&t, "client-", 7));
    /* remove every other one */
    for (int i = 0; i < N; i += 2)
        session_table_remove(&t, s[i]);
    assert_int_equal(t.count, N / 2);
    for (int i = 0; i < N; i++) {
        int n = snprintf(id, sizeof(id), "client-%d", i);
        if (i % 2)
            assert_ptr_equal(find(&t, id, (size_t)n), s[i]);
        else
            assert_null(find(&t, id, (size_t)n));
    }
    for (int i = 1; i < N; i += 2)
        session_table_remove(&t, s[i]);
    assert_int_equal(t.count, 0);
    assert_null(find(&t, "client-1", 8));
    session_table_free(&t);
    for (int i = 0; i < N; i++)
        session_free(s[i]);
    free(s);
}

static void test_ids_differing_in_last_byte(void **state)
{
    (void)state;
    struct session_table t = {0};
    struct session *s[256];
    uint8_t id[20];
    memset(id, 'k', sizeof(id));
    for (int i = 0; i < 256; i++) {
        id[19] = (uint8_t)i;
        s[i] = make(id, sizeof(id));
        assert_int_equal(session_table_insert(&t, s[i]), 0);
    }
    for (int i = 0; i < 256; i++) {
        id[19] = (uint8_t)i;
        assert_ptr_equal(find(&t, id, sizeof(id)), s[i]);
    }
    /* a prefix or an extension of an id is a different id */
    assert_null(find(&t, id, sizeof(id) - 1));
    session_table_remove(&t, s[7]);
    id[19] = 7;
    assert_null(find(&t, id, sizeof(id)));
    id[19] = 8;
    assert_ptr_equal(find(&t, id, sizeof(id)), s[8]);
    session_table_free(&t);
    for (int i = 0; i < 256; i++)
        session_free(s[i]);
}

/* Ids are byte strings: a NUL inside does not end them. */
static void test_ids_with_embedded_nul(void **state)
{
    (void)state;
    struct session_table t = {0};
    static const uint8_t a[] = {'a', 0, 'b'};
    static const uint8_t b[] = {'a', 0, 'c'};
    static const uint8_t c[] = {'a'};
    static const uint8_t d[] = {'a', 0};
    struct session *sa = make(a, 3), *sb = make(b, 3), *sc = make(c, 1), *sd = make(d, 2);
    assert_int_equal(session_table_insert(&t, sa), 0);
    assert_int_equal(session_table_insert(&t, sb), 0);
    assert_int_equal(session_table_insert(&t, sc), 0);
    assert_int_equal(session_table_insert(&t, sd), 0);
    assert_ptr_equal(find(&t, a, 3), sa);
    assert_ptr_equal(find(&t, b, 3), sb);
    assert_ptr_equal(find(&t, c, 1), sc);
    assert_ptr_equal(find(&t, d, 2), sd);
    session_table_remove(&t, sd);
    assert_null(find(&t, d, 2));
    assert_ptr_equal(find(&t, c, 1), sc);
    assert_ptr_equal(find(&t, a, 3), sa);
    session_table_free(&t);
    session_free(sa);
    session_free(sb);
    session_free(sc);
    session_free(sd);
}

static void test_empty_id(void **state)
{
    (void)state;
    struct session_table t = {0};
    struct session *s = make("", 0);
    assert_int_equal(session_table_insert(&t, s), 0);
    assert_ptr_equal(find(&t, "", 0), s);
    session_table_remove(&t, s);
    assert_null(find(&t, "", 0));
    session_table_free(&t);
    session_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_table),
        cmocka_unit_test(test_many_ids_with_growth_MQTT_3_1_3_2),
        cmocka_unit_test(test_ids_differing_in_last_byte),
        cmocka_unit_test(test_ids_with_embedded_nul),
        cmocka_unit_test(test_empty_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
