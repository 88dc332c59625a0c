/* The rules in which MQTT 3.1 ("MQIsdp", level 3) differs from 3.1.1 in the
 * codec: DUP on a re-sent PUBREL/SUBSCRIBE/UNSUBSCRIBE (decoded by the
 * connection's level) and a password without a user name (decoded by the
 * CONNECT's own level). Each relaxation holds at level 3 only. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "protocol/mqtt.h"

static const uint8_t pubrel_dup[] = {0x6a, 2, 0, 7};
static const uint8_t subscribe_dup[] = {0x8a, 6, 0, 7, 0, 1, 'a', 1};
static const uint8_t unsubscribe_dup[] = {0xaa, 5, 0, 7, 0, 1, 'a'};

static enum mqtt_err decode_at(uint8_t level, const uint8_t *b, size_t n, struct mqtt_packet *p)
{
    return mqtt_decode_level(b, n, level, p);
}

/* At level 3 the DUP bit is accepted, kept in p.flags, and the fields are
 * those of the same packet without DUP. */
static void test_dup_accepted_at_level_3(void **state)
{
    (void)state;
    struct mqtt_packet p;
    assert_int_equal(decode_at(MQTT_LEVEL_31, pubrel_dup, sizeof pubrel_dup, &p), MQTT_OK);
    assert_int_equal(p.type, MQTT_PUBREL);
    assert_int_equal(p.flags, 0x0a);
    assert_int_equal(p.u.packet_id, 7);

    assert_int_equal(decode_at(MQTT_LEVEL_31, subscribe_dup, sizeof subscribe_dup, &p), MQTT_OK);
    assert_int_equal(p.type, MQTT_SUBSCRIBE);
    assert_int_equal(p.u.subscribe.packet_id, 7);
    struct mqtt_sub_iter it;
    struct mqtt_sub_entry e;
    mqtt_sub_iter_init(&it, &p);
    assert_true(mqtt_sub_iter_next(&it, &e));
    assert_int_equal(e.filter.len, 1);
    assert_int_equal(e.filter.data[0], 'a');
    assert_int_equal(e.qos, 1);
    assert_false(mqtt_sub_iter_next(&it, &e));

    assert_int_equal(decode_at(MQTT_LEVEL_31, unsubscribe_dup, sizeof unsubscribe_dup, &p),
                     MQTT_OK);
    assert_int_equal(p.type, MQTT_UNSUBSCRIBE);
    assert_int_equal(p.u.subscribe.count, 1);
}

/* MQTT-3.6.1-1 MQTT-3.8.1-1 MQTT-3.10.1-1: 3.1.1 (and an unknown level, as
 * before CONNECT) still refuses them; mqtt_decode/mqtt_next are 3.1.1. */
static void test_dup_refused_at_level_4(void **state)
{
    (void)state;
    struct mqtt_packet p;
    const uint8_t *pk[] = {pubrel_dup, subscribe_dup, unsubscribe_dup};
    const size_t n[] = {sizeof pubrel_dup, sizeof subscribe_dup, sizeof unsubscribe_dup};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(decode_at(MQTT_LEVEL_311, pk[i], n[i], &p), MQTT_ERR_RESERVED_FLAGS);
        assert_int_equal(decode_at(0, pk[i], n[i], &p), MQTT_ERR_RESERVED_FLAGS);
        assert_int_equal(mqtt_decode(pk[i], n[i], &p), MQTT_ERR_RESERVED_FLAGS);
        size_t used = 99;
        assert_int_equal(mqtt_next(pk[i], n[i], 0, &p, &used), MQTT_ERR_RESERVED_FLAGS);
        assert_int_equal(used, 0);
        assert_int_equal(mqtt_next_level(pk[i], n[i], 0, MQTT_LEVEL_31, &p, &used), MQTT_OK);
        assert_int_equal(used, n[i]);
    }
}

/* Only DUP is relaxed: the other flag values stay refused at level 3, and
 * packets whose flags are 0000 take no DUP either. */
static void test_level_3_only_relaxes_dup(void **state)
{
    (void)state;
    struct mqtt_packet p;
    for (unsigned flags = 0; flags < 16; flags++) {
        if (flags == 0x02 || flags == 0x0a) continue;
        uint8_t pubrel[] = {(uint8_t)(0x60 | flags), 2, 0, 7};
        assert_int_equal(decode_at(MQTT_LEVEL_31, pubrel, sizeof pubrel, &p),
                         MQTT_ERR_RESERVED_FLAGS);
    }
    static const uint8_t puback_dup[] = {0x48, 2, 0, 7}, ping_dup[] = {0xc8, 0};
    assert_int_equal(decode_at(MQTT_LEVEL_31, puback_dup, sizeof puback_dup, &p),
                     MQTT_ERR_RESERVED_FLAGS);
    assert_int_equal(decode_at(MQTT_LEVEL_31, ping_dup, sizeof ping_dup, &p),
                     MQTT_ERR_RESERVED_FLAGS);
    /* a QoS 0 PUBLISH with DUP stays refused too (MQTT-3.3.1-2) */
    static const uint8_t pub[] = {0x38, 3, 0, 1, 'a'};
    assert_int_equal(decode_at(MQTT_LEVEL_31, pub, sizeof pub, &p), MQTT_ERR_DUP_QOS0);
}

/* "MQIsdp"/3, flags 0x42 (password, clean), client id "id", password "pw". */
static const uint8_t connect31_pw[] = {0x10, 20, 0,  6, 'M', 'Q', 'I', 's', 'd', 'p', 3,
                                       0x42, 0,  30, 0, 2,   'i', 'd', 0,   2,   'p', 'w'};

/* Like Mosquitto for mqtt31: the password is read, there is no user name.
 * The CONNECT's own level decides, whatever level the caller passes. */
static void test_connect31_password_without_username(void **state)
{
    (void)state;
    struct mqtt_packet p;
    const uint8_t levels[] = {0, MQTT_LEVEL_31, MQTT_LEVEL_311};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(decode_at(levels[i], connect31_pw, sizeof connect31_pw, &p), MQTT_OK);
        assert_int_equal(p.u.connect.protocol_level, 3);
        assert_false(p.u.connect.has_username);
        assert_true(p.u.connect.has_password);
        assert_int_equal(p.u.connect.password.len, 2);
        assert_memory_equal(p.u.connect.password.data, "pw", 2);
    }
    /* and it re-encodes to the same bytes */
    uint8_t out[64];
    assert_int_equal(mqtt_encode(&p, out, sizeof out), sizeof connect31_pw);
    assert_memory_equal(out, connect31_pw, sizeof connect31_pw);
}

/* MQTT-3.1.2-22: the same CONNECT as "MQTT"/4 is refused, at any level. */
static void test_connect311_password_without_username_MQTT_3_1_2_22(void **state)
{
    (void)state;
    static const uint8_t c[] = {0x10, 18, 0, 4, 'M', 'Q', 'T', 'T', 4,   0x42,
                                0,    30, 0, 2, 'i', 'd', 0,   2,   'p', 'w'};
    struct mqtt_packet p;
    assert_int_equal(decode_at(MQTT_LEVEL_31, c, sizeof c, &p), MQTT_ERR_PASSWORD_FLAG);
    assert_int_equal(decode_at(MQTT_LEVEL_311, c, sizeof c, &p), MQTT_ERR_PASSWORD_FLAG);
}

/* A 3.1 password field that is flagged must still be there. */
static void test_connect31_flagged_password_missing(void **state)
{
    (void)state;
    uint8_t c[sizeof connect31_pw];
    memcpy(c, connect31_pw, sizeof c);
    c[1] = 16; /* drop the password field */
    struct mqtt_packet p;
    assert_int_equal(mqtt_decode(c, sizeof c - 4, &p), MQTT_ERR_TRUNCATED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dup_accepted_at_level_3),
        cmocka_unit_test(test_dup_refused_at_level_4),
        cmocka_unit_test(test_level_3_only_relaxes_dup),
        cmocka_unit_test(test_connect31_password_without_username),
        cmocka_unit_test(test_connect311_password_without_username_MQTT_3_1_2_22),
        cmocka_unit_test(test_connect31_flagged_password_missing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
