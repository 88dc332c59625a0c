/* Application messages: topic and payload are copied at creation, laid out
 * on the wire as [len hi][len lo][topic][payload], reference-counted, and
 * topics longer than a UTF-8 string's 16-bit length are refused. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "broker/route/msg.h"

static void test_copies_topic_and_payload(void **state)
{
    (void)state;
    uint8_t topic[] = "home/kitchen/temp";
    uint8_t payload[] = {0x00, 0xff, '2', '1', '.', '5', 0x00};
    size_t tl = sizeof(topic) - 1;
    struct msg *m = msg_new(topic, tl, payload, sizeof(payload), 2, true);
    assert_non_null(m);
    memset(topic, 'X', tl);
    memset(payload, 0xAA, sizeof(payload));
    assert_int_equal(m->topic_len, tl);
    assert_memory_equal(m->topic, "home/kitchen/temp", tl);
    assert_int_equal(m->payload_len, 7);
    assert_memory_equal(m->payload,
                        "\x00\xff"
                        "21.5\x00",
                        7);
    assert_int_equal(m->qos, 2);
    assert_true(m->retain);
    assert_int_equal(m->refs, 1);
    msg_unref(m);
}

static void test_wire_layout(void **state)
{
    (void)state;
    /* 300 bytes: the length needs both bytes of the big-endian prefix. */
    uint8_t topic[300];
    for (size_t i = 0; i < sizeof(topic); i++)
        topic[i] = (uint8_t)('a' + i % 26);
    struct msg *m = msg_new(topic, sizeof(topic), (const uint8_t *)"xyz", 3, 0, false);
    assert_non_null(m);
    const uint8_t *w = msg_topic_wire(m);
    assert_int_equal(w[0], 0x01);
    assert_int_equal(w[1], 0x2c);
    assert_memory_equal(w + 2, topic, sizeof(topic));
    assert_memory_equal(w + 2 + sizeof(topic), "xyz", 3);
    /* topic and payload point into the same contiguous wire image */
    assert_ptr_equal(m->topic, w + 2);
    assert_ptr_equal(m->payload, w + 2 + sizeof(topic));
    assert_false(m->retain);
    assert_int_equal(m->qos, 0);
    msg_unref(m);
}

static void test_refcounting(void **state)
{
    (void)state;
    struct msg *m = msg_new((const uint8_t *)"t", 1, (const uint8_t *)"p", 1, 1, false);
    assert_non_null(m);
    assert_ptr_equal(msg_ref(m), m);
    assert_ptr_equal(msg_ref(m), m);
    assert_int_equal(m->refs, 3);
    msg_unref(m);
    msg_unref(m);
    assert_int_equal(m->refs, 1);
    assert_memory_equal(m->topic, "t", 1); /* still alive (ASan would say) */
    msg_unref(m);                          /* freed: LeakSanitizer checks it */
    msg_unref(NULL);                       /* harmless */
}

static void test_zero_length_payload(void **state)
{
    (void)state;
    struct msg *m = msg_new((const uint8_t *)"a/b", 3, NULL, 0, 1, true);
    assert_non_null(m);
    assert_int_equal(m->payload_len, 0);
    assert_int_equal(m->topic_len, 3);
    assert_memory_equal(msg_topic_wire(m),
                        "\x00\x03"
                        "a/b",
                        5);
    assert_ptr_equal(m->payload, m->wire + 5);
    msg_unref(m);
}

/* A topic is a UTF-8 string with a 16-bit length: 65535 bytes is the most
 * that can be written, 65536 cannot be represented. */
static void test_topic_length_limit(void **state)
{
    (void)state;
    uint8_t *topic = malloc(65536);
    assert_non_null(topic);
    memset(topic, 'q', 65536);
    topic[65534] = 'z';
    struct msg *m = msg_new(topic, 65535, (const uint8_t *)"pl", 2, 0, false);
    assert_non_null(m);
    assert_int_equal(m->topic_len, 65535);
    assert_int_equal(msg_topic_wire(m)[0], 0xff);
    assert_int_equal(msg_topic_wire(m)[1], 0xff);
    assert_memory_equal(m->topic, topic, 65535);
    assert_memory_equal(m->payload, "pl", 2);
    msg_unref(m);
    assert_null(msg_new(topic, 65536, (const uint8_t *)"pl", 2, 0, false));
    free(topic);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copies_topic_and_payload),
        cmocka_unit_test(test_wire_layout),
        cmocka_unit_test(test_refcounting),
        cmocka_unit_test(test_zero_length_payload),
        cmocka_unit_test(test_topic_length_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
