/* The inbound QoS 2 id set (MQTT-4.3.3-2: an id is known until its PUBREL):
 * exact membership across the switch from array to bit map and back, for
 * every one of the 65535 ids a client may hold open at once. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "broker/session/id_set.h"

static void test_small_set(void **state)
{
    (void)state;
    struct id_set s = {0};
    assert_int_equal(id_set_add(&s, 7), 1);
    assert_int_equal(id_set_add(&s, 7), 0);
    assert_int_equal(id_set_add(&s, 65535), 1);
    assert_false(id_set_remove(&s, 8));
    assert_true(id_set_remove(&s, 7));
    assert_false(id_set_remove(&s, 7));
    assert_int_equal(s.n, 1);
    assert_true(id_set_remove(&s, 65535));
    assert_null(s.p); /* empty: no memory held */
}

/* All ids open at once (a client that never sends PUBREL), then released in
 * another order: each add and remove is answered exactly. */
static void test_every_id(void **state)
{
    (void)state;
    struct id_set s = {0};
    for (uint32_t id = 1; id <= 65535; id++)
        assert_int_equal(id_set_add(&s, (uint16_t)id), 1);
    assert_int_equal(s.n, 65535);
    assert_int_equal(s.cap, ID_SET_BITMAP);
    for (uint32_t id = 1; id <= 65535; id += 97)
        assert_int_equal(id_set_add(&s, (uint16_t)id), 0);
    for (uint32_t id = 2; id <= 65535; id += 2)
        assert_true(id_set_remove(&s, (uint16_t)id));
    for (uint32_t id = 1; id <= 65535; id++)
        assert_int_equal(id_set_add(&s, (uint16_t)id), id % 2 == 0 ? 1 : 0);
    for (uint32_t id = 65535; id >= 1; id--)
        assert_true(id_set_remove(&s, (uint16_t)id));
    assert_int_equal(s.n, 0);
    assert_null(s.p);
    id_set_free(&s);
}

/* Past the array's size the ids move into the map without losing one. */
static void test_array_to_map(void **state)
{
    (void)state;
    struct id_set s = {0};
    for (uint16_t id = 100; id < 100 + ID_SET_ARRAY_MAX; id++)
        assert_int_equal(id_set_add(&s, id), 1);
    assert_true(s.cap != ID_SET_BITMAP);
    assert_int_equal(id_set_add(&s, 5), 1);
    assert_int_equal(s.cap, ID_SET_BITMAP);
    for (uint16_t id = 100; id < 100 + ID_SET_ARRAY_MAX; id++)
        assert_int_equal(id_set_add(&s, id), 0);
    assert_true(id_set_remove(&s, 5));
    assert_false(id_set_remove(&s, 6));
    assert_int_equal(s.n, ID_SET_ARRAY_MAX);
    id_set_free(&s);
    assert_null(s.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_set),
        cmocka_unit_test(test_every_id),
        cmocka_unit_test(test_array_to_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
