/* The offline-session list: sessions come out oldest disconnect first
 * whatever is unlinked in between (reconnects, destroys), and the oldest is
 * reported expired exactly from its deadline on, never with expiry 0. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>

#include "broker/session/session_lru.h"

static struct session *make(const char *id)
{
    struct session *s = session_new((const uint8_t *)id, 1, 0);
    assert_non_null(s);
    return s;
}

static void check_order(const struct session_lru *l, struct session *const *want, size_t n)
{
    assert_int_equal(l->count, n);
    const struct session *s = l->head, *prev = NULL;
    for (size_t i = 0; i < n; i++, prev = s, s = s->lru_next) {
        assert_ptr_equal(s, want[i]);
        assert_ptr_equal(s->lru_prev, prev);
        assert_true(s->in_lru);
    }
    assert_null(s);
    assert_ptr_equal(l->tail, n ? want[n - 1] : NULL);
}

static void test_disconnect_order_kept_across_unlinks(void **state)
{
    (void)state;
    struct session_lru l = {0};
    struct session *a = make("a"), *b = make("b"), *c = make("c"), *d = make("d");
    session_lru_unlink(&l, a); /* not in the list: nothing happens */
    check_order(&l, NULL, 0);
    session_lru_append(&l, a, 100);
    session_lru_append(&l, b, 200);
    session_lru_append(&l, c, 300);
    session_lru_append(&l, d, 400);
    check_order(&l, (struct session *[]){a, b, c, d}, 4);
    session_lru_unlink(&l, b); /* b reconnects */
    check_order(&l, (struct session *[]){a, c, d}, 3);
    assert_false(b->in_lru);
    session_lru_unlink(&l, b);
    session_lru_unlink(&l, a); /* head */
    session_lru_unlink(&l, d); /* tail */
    check_order(&l, (struct session *[]){c}, 1);
    session_lru_append(&l, b, 500); /* b leaves again: now the newest */
    session_lru_append(&l, a, 600);
    check_order(&l, (struct session *[]){c, b, a}, 3);
    assert_int_equal(b->offline_since_ms, 500);
    session_lru_unlink(&l, c);
    session_lru_unlink(&l, b);
    session_lru_unlink(&l, a);
    check_order(&l, NULL, 0);
    session_free(a);
    session_free(b);
    session_free(c);
    session_free(d);
}

static void test_oldest_expires_at_its_deadline(void **state)
{
    (void)state;
    struct session_lru l = {0};
    struct session *a = make("a"), *b = make("b");
    assert_null(session_lru_expired(&l, 1000000, 1000));
    session_lru_append(&l, a, 1000);
    session_lru_append(&l, b, 1500);
    assert_int_equal(session_lru_deadline(a, 2000), 3000);
    assert_null(session_lru_expired(&l, 2999, 2000));
    assert_ptr_equal(session_lru_expired(&l, 3000, 2000), a);
    /* expiry 0: kept forever */
    assert_int_equal(session_lru_deadline(a, 0), UINT64_MAX);
    assert_null(session_lru_expired(&l, UINT64_MAX - 1, 0));
    session_lru_unlink(&l, a); /* popped: b is next, at its own deadline */
    assert_null(session_lru_expired(&l, 3000, 2000));
    assert_ptr_equal(session_lru_expired(&l, 3500, 2000), b);
    session_lru_unlink(&l, b);
    session_free(a);
    session_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_disconnect_order_kept_across_unlinks),
        cmocka_unit_test(test_oldest_expires_at_its_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
