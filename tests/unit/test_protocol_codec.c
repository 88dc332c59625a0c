/* Round trips of all 14 packet types through the codec: encode -> decode ->
 * same fields; byte arrays written from the spec -> expected fields ->
 * re-encoded to the same bytes; exact sizes and refusal of a short buffer. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "protocol/mqtt.h"

#define B(s) ((struct mqtt_bytes){(const uint8_t *)(s), sizeof(s) - 1})

static void assert_bytes_eq(struct mqtt_bytes a, struct mqtt_bytes b)
{
    assert_int_equal(a.len, b.len);
    if (a.len) assert_memory_equal(a.data, b.data, a.len);
}

static void assert_bytes_str(struct mqtt_bytes a, const char *s)
{
    assert_bytes_eq(a, (struct mqtt_bytes){(const uint8_t *)s, strlen(s)});
}

/* Decodes bytes and re-encodes the result: the bytes must come back. */
static void decode_reencode(const uint8_t *bytes, size_t len, struct mqtt_packet *out)
{
    assert_int_equal(mqtt_decode(bytes, len, out), MQTT_OK);
    assert_int_equal(mqtt_encoded_size(out), len);
    uint8_t buf[256];
    assert_int_equal(mqtt_encode(out, buf, sizeof(buf)), len);
    assert_memory_equal(buf, bytes, len);
}

static void assert_connect_eq(const struct mqtt_connect *a, const struct mqtt_connect *b)
{
    assert_int_equal(a->protocol_level, b->protocol_level);
    assert_int_equal(a->clean_session, b->clean_session);
    assert_int_equal(a->keepalive, b->keepalive);
    assert_bytes_eq(a->client_id, b->client_id);
    assert_int_equal(a->will_flag, b->will_flag);
    assert_int_equal(a->will_qos, b->will_qos);
    assert_int_equal(a->will_retain, b->will_retain);
    assert_int_equal(a->has_username, b->has_username);
    assert_int_equal(a->has_password, b->has_password);
    if (a->will_flag) {
        assert_bytes_eq(a->will_topic, b->will_topic);
        assert_bytes_eq(a->will_payload, b->will_payload);
    }
    if (a->has_username) assert_bytes_eq(a->username, b->username);
    if (a->has_password) assert_bytes_eq(a->password, b->password);
}

static void assert_subscribe_eq(const struct mqtt_packet *decoded, const struct mqtt_packet *orig)
{
    const struct mqtt_subscribe *s = &orig->u.subscribe;
    assert_int_equal(decoded->u.subscribe.packet_id, s->packet_id);
    assert_int_equal(decoded->u.subscribe.count, s->count);
    assert_null(decoded->u.subscribe.entries);
    struct mqtt_sub_iter it;
    struct mqtt_sub_entry e;
    mqtt_sub_iter_init(&it, decoded);
    for (size_t i = 0; i < s->count; i++) {
        assert_true(mqtt_sub_iter_next(&it, &e));
        assert_bytes_eq(e.filter, s->entries[i].filter);
        if (orig->type == MQTT_SUBSCRIBE) assert_int_equal(e.qos, s->entries[i].qos);
    }
    assert_false(mqtt_sub_iter_next(&it, &e));
}

static void assert_fields_eq(const struct mqtt_packet *d, const struct mqtt_packet *p)
{
    assert_int_equal(d->type, p->type);
    switch (p->type) {
    case MQTT_CONNECT:
        assert_connect_eq(&d->u.connect, &p->u.connect);
        break;
    case MQTT_CONNACK:
        assert_int_equal(d->u.connack.session_present, p->u.connack.session_present);
        assert_int_equal(d->u.connack.return_code, p->u.connack.return_code);
        break;
    case MQTT_PUBLISH:
        assert_int_equal(d->u.publish.dup, p->u.publish.dup);
        assert_int_equal(d->u.publish.qos, p->u.publish.qos);
        assert_int_equal(d->u.publish.retain, p->u.publish.retain);
        assert_bytes_eq(d->u.publish.topic, p->u.publish.topic);
        assert_int_equal(d->u.publish.packet_id, p->u.publish.packet_id);
        assert_bytes_eq(d->u.publish.payload, p->u.publish.payload);
        break;
    case MQTT_SUBSCRIBE:
    case MQTT_UNSUBSCRIBE:
        assert_subscribe_eq(d, p);
        break;
    case MQTT_SUBACK:
        assert_int_equal(d->u.suback.packet_id, p->u.suback.packet_id);
        assert_int_equal(d->u.suback.count, p->u.suback.count);
        assert_memory_equal(d->u.suback.codes, p->u.suback.codes, p->u.suback.count);
        break;
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP:
    case MQTT_UNSUBACK:
        assert_int_equal(d->u.packet_id, p->u.packet_id);
        break;
    default:
        break;
    }
}

/* encode -> decode -> same fields; also: exact size, short buffer refused. */
static void round_trip(const struct mqtt_packet *p)
{
    size_t size = mqtt_encoded_size(p);
    assert_true(size >= 2);
    uint8_t *buf = malloc(size);
    assert_non_null(buf);
    assert_int_equal(mqtt_encode(p, buf, size - 1), 0);
    assert_int_equal(mqtt_encode(p, buf, size), size);
    struct mqtt_packet d;
    assert_int_equal(mqtt_decode(buf, size, &d), MQTT_OK);
    assert_fields_eq(&d, p);
    free(buf);
}

static void test_connect_round_trip(void **state)
{
    (void)state;
    struct mqtt_packet p = {.type = MQTT_CONNECT};
    struct mqtt_connect *c = &p.u.connect;
    c->protocol_level = 4;
    c->clean_session = true;
    c->keepalive = 60;
    c->client_id = B("client-1");
    round_trip(&p);

    c->clean_session = false;
    c->will_flag = true;
    c->will_qos = 2;
    c->will_retain = true;
    c->will_topic = B("last/will");
    c->will_payload = B("gone\0\xff");
    c->has_username = true;
    c->username = B("alice");
    c->has_password = true;
    c->password = B("\0secret\xff");
    c->keepalive = 65535;
    round_trip(&p);

    c->protocol_level = 3; /* MQIsdp, with a client id over 23 bytes */
    c->client_id = B("an-mqtt-3.1-client-id-longer-than-23");
    round_trip(&p);

    c->client_id = B(""); /* empty client id is the broker's decision */
    round_trip(&p);
}

static void test_connack_round_trip(void **state)
{
    (void)state;
    struct mqtt_packet p = {.type = MQTT_CONNACK};
    for (uint8_t code = 0; code <= 5; code++) {
        p.u.connack.return_code = code;
        p.u.connack.session_present = code == 0;
        round_trip(&p);
    }
}

static void test_publish_round_trip(void **state)
{
    (void)state;
    struct mqtt_packet p = {.type = MQTT_PUBLISH};
    struct mqtt_publish *pub = &p.u.publish;
    pub->topic = B("a/b/c");
    pub->payload = B("");
    round_trip(&p);
    pub->retain = true;
    pub->payload = B("hello\0world");
    round_trip(&p);
    for (uint8_t qos = 1; qos <= 2; qos++) {
        pub->qos = qos;
        pub->dup = true;
        pub->packet_id = qos == 1 ? 1 : 65535;
        round_trip(&p);
    }
}

static void test_id_only_round_trip(void **state)
{
    (void)state;
    const enum mqtt_type types[] = {MQTT_PUBACK, MQTT_PUBREC, MQTT_PUBREL, MQTT_PUBCOMP,
                                    MQTT_UNSUBACK};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        struct mqtt_packet p = {.type = types[i], .u.packet_id = 0x1234};
        round_trip(&p);
        p.u.packet_id = 65535;
        round_trip(&p);
    }
}

static void test_subscribe_round_trip(void **state)
{
    (void)state;
    const struct mqtt_sub_entry entries[] = {
        {B("sport/tennis/+"), 0}, {B("#"), 1}, {B("/"), 2}, {B("a//b/\xc3\xa9"), 1}};
    struct mqtt_packet p = {.type = MQTT_SUBSCRIBE};
    p.u.subscribe = (struct mqtt_subscribe){.packet_id = 10, .count = 4, .entries = entries};
    round_trip(&p);
    p.u.subscribe.count = 1;
    round_trip(&p);
}

static void test_unsubscribe_round_trip(void **state)
{
    (void)state;
    const struct mqtt_sub_entry entries[] = {{B("sport/#"), 0}, {B("+/+"), 0}};
    struct mqtt_packet p = {.type = MQTT_UNSUBSCRIBE};
    p.u.subscribe = (struct mqtt_subscribe){.packet_id = 7, .count = 2, .entries = entries};
    round_trip(&p);
}

static void test_suback_round_trip(void **state)
{
    (void)state;
    const uint8_t codes[] = {0, 1, 2, MQTT_SUBACK_FAILURE};
    struct mqtt_packet p = {.type = MQTT_SUBACK};
    p.u.suback = (struct mqtt_suback){.packet_id = 9, .count = 4, .codes = codes};
    round_trip(&p);
}

static void test_empty_body_round_trip(void **state)
{
    (void)state;
    const enum mqtt_type types[] = {MQTT_PINGREQ, MQTT_PINGRESP, MQTT_DISCONNECT};
    for (size_t i = 0; i < 3; i++) {
        struct mqtt_packet p = {.type = types[i]};
        assert_int_equal(mqtt_encoded_size(&p), 2);
        round_trip(&p);
    }
}

static void test_spec_bytes_connect(void **state)
{
    (void)state;
    /* flags: user, password, will retain, will QoS 1, will, clean session */
    static const uint8_t bytes[] = {0x10, 31, 0,    4,   'M', 'Q', 'T', 'T', 4,   0xee, 0,
                                    60,   0,  2,    'c', '1', 0,   3,   'w', '/', 't',  0,
                                    2,    0,  0xff, 0,   1,   'u', 0,   3,   0,   1,    2};
    struct mqtt_packet p;
    decode_reencode(bytes, sizeof(bytes), &p);
    const struct mqtt_connect *c = &p.u.connect;
    assert_int_equal(p.type, MQTT_CONNECT);
    assert_int_equal(c->protocol_level, 4);
    assert_true(c->clean_session);
    assert_int_equal(c->keepalive, 60);
    assert_bytes_str(c->client_id, "c1");
    assert_true(c->will_flag && c->will_retain);
    assert_int_equal(c->will_qos, 1);
    assert_bytes_str(c->will_topic, "w/t");
    assert_bytes_eq(c->will_payload, B("\0\xff"));
    assert_true(c->has_username && c->has_password);
    assert_bytes_str(c->username, "u");
    assert_bytes_eq(c->password, B("\0\1\2"));
    /* zero copy: fields point into the input buffer */
    assert_ptr_equal(c->client_id.data, bytes + 14);
    assert_ptr_equal(c->password.data, bytes + sizeof(bytes) - 3);
}

static void test_spec_bytes_connect_mqisdp(void **state)
{
    (void)state;
    static const uint8_t bytes[] = {0x10, 44,  0,   6,   'M', 'Q', 'I', 's', 'd', 'p', 3,   0x02,
                                    0,    10,  0,   30,  'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h',
                                    'i',  'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't',
                                    'u',  'v', 'w', 'x', 'y', 'z', '0', '1', '2', '3'};
    struct mqtt_packet p;
    decode_reencode(bytes, sizeof(bytes), &p);
    assert_int_equal(p.u.connect.protocol_level, 3);
    assert_int_equal(p.u.connect.keepalive, 10);
    assert_int_equal(p.u.connect.client_id.len, 30);
    assert_false(p.u.connect.will_flag || p.u.connect.has_username);
}

static void test_spec_bytes_connack(void **state)
{
    (void)state;
    static const uint8_t a[] = {0x20, 2, 1, 0}, b[] = {0x20, 2, 0, 5};
    struct mqtt_packet p;
    decode_reencode(a, sizeof(a), &p);
    assert_true(p.u.connack.session_present);
    assert_int_equal(p.u.connack.return_code, 0);
    decode_reencode(b, sizeof(b), &p);
    assert_false(p.u.connack.session_present);
    assert_int_equal(p.u.connack.return_code, MQTT_CONNACK_NOT_AUTHORIZED);
}

/* MQTT-2.3.1-5: a QoS 0 PUBLISH has no packet id; the bytes after the topic
 * are payload. */
static void test_spec_bytes_publish_qos0_has_no_packet_id_MQTT_2_3_1_5(void **state)
{
    (void)state;
    static const uint8_t bytes[] = {0x30, 10, 0, 3, 'a', '/', 'b', 'h', 'e', 'l', 'l', 'o'};
    struct mqtt_packet p;
    decode_reencode(bytes, sizeof(bytes), &p);
    assert_int_equal(p.u.publish.qos, 0);
    assert_false(p.u.publish.dup || p.u.publish.retain);
    assert_int_equal(p.u.publish.packet_id, 0);
    assert_bytes_str(p.u.publish.topic, "a/b");
    assert_bytes_str(p.u.publish.payload, "hello");
    assert_ptr_equal(p.u.publish.payload.data, bytes + 7);
}

static void test_spec_bytes_publish_qos2_dup_retain(void **state)
{
    (void)state;
    static const uint8_t bytes[] = {0x3d, 7, 0, 1, 't', 0x12, 0x34, 'x', 'y'};
    struct mqtt_packet p;
    decode_reencode(bytes, sizeof(bytes), &p);
    assert_int_equal(p.flags, 0xd);
    assert_true(p.u.publish.dup && p.u.publish.retain);
    assert_int_equal(p.u.publish.qos, 2);
    assert_int_equal(p.u.publish.packet_id, 0x1234);
    assert_bytes_str(p.u.publish.payload, "xy");
}

static void test_spec_bytes_id_only(void **state)
{
    (void)state;
    static const uint8_t bytes[5][4] = {{0x40, 2, 0x12, 0x34},
                                        {0x50, 2, 0x12, 0x34},
                                        {0x62, 2, 0x12, 0x34},
                                        {0x70, 2, 0x12, 0x34},
                                        {0xb0, 2, 0x12, 0x34}};
    static const enum mqtt_type types[5] = {MQTT_PUBACK, MQTT_PUBREC, MQTT_PUBREL, MQTT_PUBCOMP,
                                            MQTT_UNSUBACK};
    for (size_t i = 0; i < 5; i++) {
        struct mqtt_packet p;
        decode_reencode(bytes[i], 4, &p);
        assert_int_equal(p.type, types[i]);
        assert_int_equal(p.u.packet_id, 0x1234);
    }
}

static void test_spec_bytes_subscribe(void **state)
{
    (void)state;
    static const uint8_t bytes[] = {0x82, 12, 0, 10, 0, 3, 'a', '/', 'b', 1, 0, 1, '#', 2};
    struct mqtt_packet p;
    decode_reencode(bytes, sizeof(bytes), &p);
    const struct mqtt_sub_entry entries[] = {{B("a/b"), 1}, {B("#"), 2}};
    struct mqtt_packet want = {.type = MQTT_SUBSCRIBE};
    want.u.subscribe = (struct mqtt_subscribe){.packet_id = 10, .count = 2, .entries = entries};
    assert_fields_eq(&p, &want);
    assert_ptr_equal(p.u.subscribe.raw.data, bytes + 4);
}

static void test_spec_bytes_unsubscribe(void **state)
{
    (void)state;
    static const uint8_t bytes[] = {0xa2, 10, 0, 11, 0, 3, 'a', '/', 'b', 0, 1, '#'};
    struct mqtt_packet p;
    decode_reencode(bytes, sizeof(bytes), &p);
    const struct mqtt_sub_entry entries[] = {{B("a/b"), 0}, {B("#"), 0}};
    struct mqtt_packet want = {.type = MQTT_UNSUBSCRIBE};
    want.u.subscribe = (struct mqtt_subscribe){.packet_id = 11, .count = 2, .entries = entries};
    assert_fields_eq(&p, &want);
}

static void test_spec_bytes_suback(void **state)
{
    (void)state;
    static const uint8_t bytes[] = {0x90, 5, 0, 10, 0, 2, 0x80};
    struct mqtt_packet p;
    decode_reencode(bytes, sizeof(bytes), &p);
    assert_int_equal(p.u.suback.packet_id, 10);
    assert_int_equal(p.u.suback.count, 3);
    assert_memory_equal(p.u.suback.codes, "\0\2\x80", 3);
}

static void test_spec_bytes_empty_bodies(void **state)
{
    (void)state;
    static const uint8_t bytes[3][2] = {{0xc0, 0}, {0xd0, 0}, {0xe0, 0}};
    static const enum mqtt_type types[3] = {MQTT_PINGREQ, MQTT_PINGRESP, MQTT_DISCONNECT};
    for (size_t i = 0; i < 3; i++) {
        struct mqtt_packet p;
        decode_reencode(bytes[i], 2, &p);
        assert_int_equal(p.type, types[i]);
    }
}

/* The header plus the payload sent separately equal the whole PUBLISH. */
static void test_publish_header_matches_full_encode(void **state)
{
    (void)state;
    enum { PAYLOAD = 20000 };
    uint8_t *payload = calloc(1, PAYLOAD), *full = malloc(PAYLOAD + 64);
    assert_true(payload && full);
    for (uint8_t qos = 0; qos <= 2; qos++) {
        struct mqtt_packet p = {.type = MQTT_PUBLISH};
        p.u.publish = (struct mqtt_publish){.qos = qos,
                                            .dup = qos == 2,
                                            .retain = qos == 1,
                                            .topic = B("fan/out"),
                                            .packet_id = qos ? 77 : 0,
                                            .payload = {payload, PAYLOAD}};
        size_t n = mqtt_encode(&p, full, PAYLOAD + 64);
        assert_int_not_equal(n, 0);
        uint8_t head[32];
        size_t h = mqtt_encode_publish_header(head, sizeof(head), qos, qos == 2, qos == 1,
                                              (const uint8_t *)"fan/out", 7, p.u.publish.packet_id,
                                              PAYLOAD);
        assert_int_equal(h + PAYLOAD, n);
        assert_memory_equal(head, full, h);
        assert_int_equal(mqtt_encode_publish_header(head, h - 1, qos, false, false,
                                                    (const uint8_t *)"fan/out", 7, 1, PAYLOAD),
                         0);
    }
    free(payload);
    free(full);
}

static void test_encode_refuses_unrepresentable(void **state)
{
    (void)state;
    uint8_t buf[64];
    struct mqtt_packet p = {.type = MQTT_PUBLISH};
    p.u.publish = (struct mqtt_publish){.qos = 3, .topic = B("t"), .packet_id = 1};
    assert_int_equal(mqtt_encoded_size(&p), 0);
    assert_int_equal(mqtt_encode(&p, buf, sizeof(buf)), 0);
    struct mqtt_packet bad_type = {.type = (enum mqtt_type)15};
    assert_int_equal(mqtt_encode(&bad_type, buf, sizeof(buf)), 0);
    assert_int_equal(mqtt_encode_publish_header(buf, sizeof(buf), 3, false, false,
                                                (const uint8_t *)"t", 1, 1, 0),
                     0);
    assert_int_equal(mqtt_encode_publish_header(buf, sizeof(buf), 0, false, false,
                                                (const uint8_t *)"t", 1, 0,
                                                MQTT_MAX_REMAINING_LENGTH),
                     0);
}

/* MQTT-4.7.3-3: a topic fits in 65535 bytes; one byte more cannot be sent. */
static void test_topic_length_limit_MQTT_4_7_3_3(void **state)
{
    (void)state;
    enum { MAX = 65535 };
    uint8_t *topic = malloc(MAX + 1), *buf = malloc(MAX + 16);
    assert_true(topic && buf);
    memset(topic, 'x', MAX + 1);
    struct mqtt_packet p = {.type = MQTT_PUBLISH};
    p.u.publish.topic = (struct mqtt_bytes){topic, MAX};
    round_trip(&p);
    p.u.publish.topic.len = MAX + 1;
    assert_int_equal(mqtt_encoded_size(&p), 0);
    assert_int_equal(
        mqtt_encode_publish_header(buf, MAX + 16, 0, false, false, topic, MAX + 1, 0, 0), 0);
    free(topic);
    free(buf);
}

static void test_err_str(void **state)
{
    (void)state;
    assert_string_equal(mqtt_err_str(MQTT_ERR_RESERVED_FLAGS), "reserved flag bits set");
    assert_string_equal(mqtt_err_str(MQTT_ERR_UTF8_INVALID), "invalid UTF-8 in string");
    assert_string_equal(mqtt_err_str((enum mqtt_err)MQTT_ERR__COUNT), "unknown error");
    for (int i = 0; i < MQTT_ERR__COUNT; i++) {
        const char *s = mqtt_err_str((enum mqtt_err)i);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(s, mqtt_err_str((enum mqtt_err)j));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_round_trip),
        cmocka_unit_test(test_connack_round_trip),
        cmocka_unit_test(test_publish_round_trip),
        cmocka_unit_test(test_id_only_round_trip),
        cmocka_unit_test(test_subscribe_round_trip),
        cmocka_unit_test(test_unsubscribe_round_trip),
        cmocka_unit_test(test_suback_round_trip),
        cmocka_unit_test(test_empty_body_round_trip),
        cmocka_unit_test(test_spec_bytes_connect),
        cmocka_unit_test(test_spec_bytes_connect_mqisdp),
        cmocka_unit_test(test_spec_bytes_connack),
        cmocka_unit_test(test_spec_bytes_publish_qos0_has_no_packet_id_MQTT_2_3_1_5),
        cmocka_unit_test(test_spec_bytes_publish_qos2_dup_retain),
        cmocka_unit_test(test_spec_bytes_id_only),
        cmocka_unit_test(test_spec_bytes_subscribe),
        cmocka_unit_test(test_spec_bytes_unsubscribe),
        cmocka_unit_test(test_spec_bytes_suback),
        cmocka_unit_test(test_spec_bytes_empty_bodies),
        cmocka_unit_test(test_publish_header_matches_full_encode),
        cmocka_unit_test(test_encode_refuses_unrepresentable),
        cmocka_unit_test(test_topic_length_limit_MQTT_4_7_3_3),
        cmocka_unit_test(test_err_str),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
