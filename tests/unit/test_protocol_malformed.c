/* Every way mqtt_decode and mqtt_check_inbound refuse input, each asserting
 * its own error code, with the conformance statement it enforces. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "protocol/mqtt.h"

/* A macro so that a failure reports the caller's line. */
#define expect_err(got, want)                                                                      \
    do {                                                                                           \
        enum mqtt_err g_ = (got), w_ = (want);                                                     \
        if (g_ != w_)                                                                              \
            print_error("got \"%s\", want \"%s\"\n", mqtt_err_str(g_), mqtt_err_str(w_));          \
        assert_int_equal(g_, w_);                                                                  \
    } while (0)

#define EXPECT_DECODE(want, ...)                                                                   \
    do {                                                                                           \
        static const uint8_t bytes_[] = {__VA_ARGS__};                                             \
        struct mqtt_packet p_;                                                                     \
        expect_err(mqtt_decode(bytes_, sizeof(bytes_), &p_), (want));                              \
    } while (0)

/* A CONNECT with the given protocol name, level, flags and payload bytes. */
static size_t build_connect(uint8_t *out, const char *name, uint8_t level, uint8_t flags,
                            const uint8_t *payload, size_t plen)
{
    size_t nlen = strlen(name), rl = 2 + nlen + 4 + plen;
    assert_true(rl < 128);
    uint8_t *w = out;
    *w++ = 0x10;
    *w++ = (uint8_t)rl;
    *w++ = 0;
    *w++ = (uint8_t)nlen;
    memcpy(w, name, nlen);
    w += nlen;
    *w++ = level;
    *w++ = flags;
    *w++ = 0;
    *w++ = 30; /* keep alive */
    if (plen) memcpy(w, payload, plen);
    return (size_t)(w + plen - out);
}

static enum mqtt_err decode_connect(const char *name, uint8_t level, uint8_t flags,
                                    const uint8_t *payload, size_t plen)
{
    uint8_t buf[160];
    struct mqtt_packet p;
    return mqtt_decode(buf, build_connect(buf, name, level, flags, payload, plen), &p);
}

#define CLIENT_ID 0, 2, 'i', 'd'
static const uint8_t plain_payload[] = {CLIENT_ID};

static void test_bad_type(void **state)
{
    (void)state;
    EXPECT_DECODE(MQTT_ERR_BAD_TYPE, 0x00, 0);
    EXPECT_DECODE(MQTT_ERR_BAD_TYPE, 0xf0, 0);
}

/* MQTT-2.2.2-1, MQTT-2.2.2-2: every flag nibble but the table's is refused. */
static void test_reserved_flags_table_MQTT_2_2_2_1_MQTT_2_2_2_2(void **state)
{
    (void)state;
    for (unsigned type = MQTT_CONNECT; type <= MQTT_DISCONNECT; type++) {
        if (type == MQTT_PUBLISH) continue;
        unsigned want =
            (type == MQTT_PUBREL || type == MQTT_SUBSCRIBE || type == MQTT_UNSUBSCRIBE) ? 2 : 0;
        for (unsigned flags = 0; flags < 16; flags++) {
            uint8_t buf[2] = {(uint8_t)(type << 4 | flags), 0};
            struct mqtt_packet p;
            enum mqtt_err rc = mqtt_decode(buf, 2, &p);
            if (flags == want)
                assert_int_not_equal(rc, MQTT_ERR_RESERVED_FLAGS);
            else
                expect_err(rc, MQTT_ERR_RESERVED_FLAGS);
        }
    }
}

/* MQTT-3.6.1-1 */
static void test_pubrel_flags_MQTT_3_6_1_1(void **state)
{
    (void)state;
    EXPECT_DECODE(MQTT_ERR_RESERVED_FLAGS, 0x60, 2, 0, 1);
    EXPECT_DECODE(MQTT_OK, 0x62, 2, 0, 1);
}

/* MQTT-3.8.1-1 */
static void test_subscribe_flags_MQTT_3_8_1_1(void **state)
{
    (void)state;
    EXPECT_DECODE(MQTT_ERR_RESERVED_FLAGS, 0x80, 6, 0, 1, 0, 1, 'a', 0);
    EXPECT_DECODE(MQTT_ERR_RESERVED_FLAGS, 0x83, 6, 0, 1, 0, 1, 'a', 0);
    EXPECT_DECODE(MQTT_OK, 0x82, 6, 0, 1, 0, 1, 'a', 0);
}

/* MQTT-3.10.1-1 */
static void test_unsubscribe_flags_MQTT_3_10_1_1(void **state)
{
    (void)state;
    EXPECT_DECODE(MQTT_ERR_RESERVED_FLAGS, 0xa0, 5, 0, 1, 0, 1, 'a');
    EXPECT_DECODE(MQTT_OK, 0xa2, 5, 0, 1, 0, 1, 'a');
}

/* MQTT-3.14.1-1 */
static void test_disconnect_flags_MQTT_3_14_1_1(void **state)
{
    (void)state;
    EXPECT_DECODE(MQTT_ERR_RESERVED_FLAGS, 0xe1, 0);
    EXPECT_DECODE(MQTT_ERR_RESERVED_FLAGS, 0xe8, 0);
    EXPECT_DECODE(MQTT_OK, 0xe0, 0);
}

/* MQTT-3.3.1-4 */
static void test_publish_qos3_MQTT_3_3_1_4(void **state)
{
    (void)state;
    EXPECT_DECODE(MQTT_ERR_QOS_INVALID, 0x36, 5, 0, 1, 't', 0, 1);
    EXPECT_DECODE(MQTT_ERR_QOS_INVALID, 0x3f, 5, 0, 1, 't', 0, 1);
}

/* MQTT-3.3.1-2 */
static void test_publish_dup_qos0_MQTT_3_3_1_2(void **state)
{
    (void)state;
    EXPECT_DECODE(MQTT_ERR_DUP_QOS0, 0x38, 3, 0, 1, 't');
    EXPECT_DECODE(MQTT_OK, 0x3a, 5, 0, 1, 't', 0, 1); /* DUP with QoS 1 is fine */
}

/* MQTT-4.7.3-1 */
static void test_publish_topic_empty_MQTT_4_7_3_1(void **state)
{
    (void)state;
    EXPECT_DECODE(MQTT_ERR_TOPIC_EMPTY, 0x30, 2, 0, 0);
    EXPECT_DECODE(MQTT_ERR_TOPIC_EMPTY, 0x30, 4, 0, 0, 'h', 'i');
}

/* MQTT-3.3.2-2, MQTT-4.7.1-1 */
static void test_publish_topic_wildcard_MQTT_3_3_2_2_MQTT_4_7_1_1(void **state)
{
    (void)state;
    EXPECT_DECODE(MQTT_ERR_TOPIC_WILDCARD, 0x30, 5, 0, 3, 'a', '/', '+');
    EXPECT_DECODE(MQTT_ERR_TOPIC_WILDCARD, 0x30, 3, 0, 1, '#');
    EXPECT_DECODE(MQTT_ERR_TOPIC_WILDCARD, 0x30, 5, 0, 3, 'a', '#', 'b');
}

/* MQTT-1.5.3-1, MQTT-1.5.3-2, MQTT-4.7.3-2, MQTT-3.3.2-1 */
static void test_publish_topic_utf8_MQTT_1_5_3_1_MQTT_1_5_3_2_MQTT_4_7_3_2(void **state)
{
    (void)state;
    EXPECT_DECODE(MQTT_ERR_UTF8_INVALID, 0x30, 4, 0, 2, 0xc0, 0x80);
    EXPECT_DECODE(MQTT_ERR_UTF8_INVALID, 0x30, 3, 0, 1, 0xff);
    EXPECT_DECODE(MQTT_ERR_UTF8_SURROGATE, 0x30, 5, 0, 3, 0xed, 0xa0, 0x80);
    EXPECT_DECODE(MQTT_ERR_UTF8_NULL, 0x30, 5, 0, 3, 'a', 0, 'b');
    /* bytes of the payload are not checked: it is binary */
    EXPECT_DECODE(MQTT_OK, 0x30, 5, 0, 1, 't', 0, 0xff);
}

/* MQTT-2.3.1-1 */
static void test_packet_id_zero_MQTT_2_3_1_1(void **state)
{
    (void)state;
    EXPECT_DECODE(MQTT_ERR_PACKET_ID_ZERO, 0x32, 5, 0, 1, 't', 0, 0);
    EXPECT_DECODE(MQTT_ERR_PACKET_ID_ZERO, 0x34, 5, 0, 1, 't', 0, 0);
    EXPECT_DECODE(MQTT_ERR_PACKET_ID_ZERO, 0x82, 6, 0, 0, 0, 1, 'a', 0);
    EXPECT_DECODE(MQTT_ERR_PACKET_ID_ZERO, 0xa2, 5, 0, 0, 0, 1, 'a');
}

/* 3.1.1 does not forbid id 0 in the acknowledgements: they are accepted. */
static void test_ack_packet_id_zero_accepted(void **state)
{
    (void)state;
    EXPECT_DECODE(MQTT_OK, 0x40, 2, 0, 0);
    EXPECT_DECODE(MQTT_OK, 0x50, 2, 0, 0);
    EXPECT_DECODE(MQTT_OK, 0x62, 2, 0, 0);
    EXPECT_DECODE(MQTT_OK, 0x70, 2, 0, 0);
}

/* MQTT-3.8.3-3 */
static void test_subscribe_no_topics_MQTT_3_8_3_3(void **state)
{
    (void)state;
    EXPECT_DECODE(MQTT_ERR_NO_TOPICS, 0x82, 2, 0, 1);
}

/* MQTT-3.10.3-2 */
static void test_unsubscribe_no_topics_MQTT_3_10_3_2(void **state)
{
    (void)state;
    EXPECT_DECODE(MQTT_ERR_NO_TOPICS, 0xa2, 2, 0, 1);
}

/* MQTT-4.7.1-2, MQTT-4.7.1-3, MQTT-4.7.3-1, MQTT-3.8.3-1, MQTT-3.10.3-1 */
static void test_bad_filters_MQTT_4_7_1_2_MQTT_4_7_1_3(void **state)
{
    (void)state;
    EXPECT_DECODE(MQTT_ERR_FILTER_INVALID, 0x82, 7, 0, 1, 0, 2, 'a', '+', 0);
    EXPECT_DECODE(MQTT_ERR_FILTER_INVALID, 0x82, 10, 0, 1, 0, 5, 'a', '/', '#', '/', 'b', 0);
    EXPECT_DECODE(MQTT_ERR_TOPIC_EMPTY, 0x82, 5, 0, 1, 0, 0, 0);
    EXPECT_DECODE(MQTT_ERR_UTF8_INVALID, 0x82, 6, 0, 1, 0, 1, 0x80, 0);
    /* a bad second entry is found too */
    EXPECT_DECODE(MQTT_ERR_FILTER_INVALID, 0x82, 11, 0, 1, 0, 1, 'a', 0, 0, 2, '#', '#', 0);
    EXPECT_DECODE(MQTT_ERR_FILTER_INVALID, 0xa2, 6, 0, 1, 0, 2, 'a', '+');
    EXPECT_DECODE(MQTT_ERR_TOPIC_EMPTY, 0xa2, 4, 0, 1, 0, 0);
    EXPECT_DECODE(MQTT_ERR_UTF8_NULL, 0xa2, 5, 0, 1, 0, 1, 0);
}

/* MQTT-3.8.3-4 */
static void test_subscribe_requested_qos_MQTT_3_8_3_4(void **state)
{
    (void)state;
    EXPECT_DECODE(MQTT_ERR_QOS_INVALID, 0x82, 6, 0, 1, 0, 1, 'a', 3);
    EXPECT_DECODE(MQTT_ERR_SUBSCRIBE_RESERVED, 0x82, 6, 0, 1, 0, 1, 'a', 0x04);
    EXPECT_DECODE(MQTT_ERR_SUBSCRIBE_RESERVED, 0x82, 6, 0, 1, 0, 1, 'a', 0x81);
    EXPECT_DECODE(MQTT_OK, 0x82, 6, 0, 1, 0, 1, 'a', 2);
}

static void test_truncated_fields(void **state)
{
    (void)state;
    EXPECT_DECODE(MQTT_ERR_TRUNCATED, 0x30, 3, 0, 5, 'a');          /* topic past end */
    EXPECT_DECODE(MQTT_ERR_TRUNCATED, 0x30, 1, 0);                  /* half a length */
    EXPECT_DECODE(MQTT_ERR_TRUNCATED, 0x32, 4, 0, 1, 't', 0);       /* half a packet id */
    EXPECT_DECODE(MQTT_ERR_TRUNCATED, 0x40, 1, 0);                  /* PUBACK */
    EXPECT_DECODE(MQTT_ERR_TRUNCATED, 0x20, 1, 0);                  /* CONNACK */
    EXPECT_DECODE(MQTT_ERR_TRUNCATED, 0x82, 5, 0, 1, 0, 1, 'a');    /* no QoS byte */
    EXPECT_DECODE(MQTT_ERR_TRUNCATED, 0x82, 6, 0, 1, 0, 9, 'a', 0); /* filter past end */
    EXPECT_DECODE(MQTT_ERR_TRUNCATED, 0x82, 1, 0);                  /* half a packet id */
    EXPECT_DECODE(MQTT_ERR_TRUNCATED, 0x90, 1, 0);                  /* SUBACK */
}

/* The buffer handed to mqtt_decode disagrees with the remaining length. */
static void test_buffer_length_mismatch(void **state)
{
    (void)state;
    EXPECT_DECODE(MQTT_ERR_TRUNCATED, 0x40, 2, 0);
    EXPECT_DECODE(MQTT_ERR_TRUNCATED, 0x30, 0x80);
    EXPECT_DECODE(MQTT_ERR_TRAILING_BYTES, 0x40, 2, 0, 1, 0);
    EXPECT_DECODE(MQTT_ERR_REMLEN_OVERFLOW, 0x30, 0xff, 0xff, 0xff, 0xff, 0x7f);
}

static void test_trailing_bytes(void **state)
{
    (void)state;
    EXPECT_DECODE(MQTT_ERR_TRAILING_BYTES, 0xc0, 1, 0);
    EXPECT_DECODE(MQTT_ERR_TRAILING_BYTES, 0xd0, 1, 0);
    EXPECT_DECODE(MQTT_ERR_TRAILING_BYTES, 0xe0, 1, 0);
    EXPECT_DECODE(MQTT_ERR_TRAILING_BYTES, 0x40, 3, 0, 1, 0);
    EXPECT_DECODE(MQTT_ERR_TRAILING_BYTES, 0x50, 3, 0, 1, 0);
    EXPECT_DECODE(MQTT_ERR_TRAILING_BYTES, 0x62, 3, 0, 1, 0);
    EXPECT_DECODE(MQTT_ERR_TRAILING_BYTES, 0x70, 3, 0, 1, 0);
    EXPECT_DECODE(MQTT_ERR_TRAILING_BYTES, 0xb0, 3, 0, 1, 0);
    EXPECT_DECODE(MQTT_ERR_TRAILING_BYTES, 0x20, 3, 0, 0, 0);
}

/* Server-side checks of what a client sends back; SUBACK code 0x03 and
 * CONNACK reserved bits are refused so a test client notices broker bugs. */
static void test_server_packets_checked(void **state)
{
    (void)state;
    EXPECT_DECODE(MQTT_ERR_RESERVED_FLAGS, 0x20, 2, 0x02, 0);
    EXPECT_DECODE(MQTT_ERR_QOS_INVALID, 0x90, 3, 0, 1, 3);
    EXPECT_DECODE(MQTT_ERR_NO_TOPICS, 0x90, 2, 0, 1);
}

/* MQTT-3.1.2-1 */
static void test_connect_protocol_name_MQTT_3_1_2_1(void **state)
{
    (void)state;
    const uint8_t *pl = plain_payload;
    size_t n = sizeof(plain_payload);
    expect_err(decode_connect("MQTX", 4, 2, pl, n), MQTT_ERR_PROTOCOL_NAME);
    expect_err(decode_connect("mqtt", 4, 2, pl, n), MQTT_ERR_PROTOCOL_NAME);
    expect_err(decode_connect("MQIsdpX", 3, 2, pl, n), MQTT_ERR_PROTOCOL_NAME);
    expect_err(decode_connect("", 4, 2, pl, n), MQTT_ERR_PROTOCOL_NAME);
    expect_err(decode_connect("MQTT", 4, 2, pl, n), MQTT_OK);
    expect_err(decode_connect("MQIsdp", 3, 2, pl, n), MQTT_OK);
    EXPECT_DECODE(MQTT_ERR_TRUNCATED, 0x10, 4, 0, 4, 'M', 'Q');
}

/* MQTT-3.1.2-2: known name, other level; decided before the rest is read,
 * so an MQTT 5 CONNECT (properties after keep alive) still gets 0x01. */
static void test_connect_protocol_level_MQTT_3_1_2_2(void **state)
{
    (void)state;
    const uint8_t *pl = plain_payload;
    size_t n = sizeof(plain_payload);
    expect_err(decode_connect("MQTT", 3, 2, pl, n), MQTT_ERR_PROTOCOL_LEVEL);
    expect_err(decode_connect("MQIsdp", 4, 2, pl, n), MQTT_ERR_PROTOCOL_LEVEL);
    /* MQTT 5: property length 5, session expiry interval, then client id */
    static const uint8_t v5_payload[] = {5, 0x11, 0, 0, 0, 10, CLIENT_ID};
    expect_err(decode_connect("MQTT", 5, 0x03, v5_payload, sizeof(v5_payload)),
               MQTT_ERR_PROTOCOL_LEVEL);
    EXPECT_DECODE(MQTT_ERR_PROTOCOL_LEVEL, 0x10, 7, 0, 4, 'M', 'Q', 'T', 'T', 5);
    EXPECT_DECODE(MQTT_ERR_TRUNCATED, 0x10, 6, 0, 4, 'M', 'Q', 'T', 'T');
}

/* MQTT-3.1.2-3 */
static void test_connect_reserved_flag_MQTT_3_1_2_3(void **state)
{
    (void)state;
    expect_err(decode_connect("MQTT", 4, 0x03, plain_payload, sizeof(plain_payload)),
               MQTT_ERR_CONNECT_RESERVED);
}

/* MQTT-3.1.2-11, MQTT-3.1.2-13, MQTT-3.1.2-15 */
static void test_connect_will_flags_MQTT_3_1_2_11_13_15(void **state)
{
    (void)state;
    const uint8_t *pl = plain_payload;
    size_t n = sizeof(plain_payload);
    expect_err(decode_connect("MQTT", 4, 0x08, pl, n), MQTT_ERR_WILL_FLAGS); /* QoS 1 */
    expect_err(decode_connect("MQTT", 4, 0x10, pl, n), MQTT_ERR_WILL_FLAGS); /* QoS 2 */
    expect_err(decode_connect("MQTT", 4, 0x20, pl, n), MQTT_ERR_WILL_FLAGS); /* retain */
    /* MQTT-3.1.2-11: no will flag, but will fields in the payload */
    static const uint8_t extra[] = {CLIENT_ID, 0, 1, 'w', 0, 0};
    expect_err(decode_connect("MQTT", 4, 0x02, extra, sizeof(extra)), MQTT_ERR_TRAILING_BYTES);
}

/* MQTT-3.1.2-14 */
static void test_connect_will_qos3_MQTT_3_1_2_14(void **state)
{
    (void)state;
    static const uint8_t will[] = {CLIENT_ID, 0, 1, 'w', 0, 0};
    expect_err(decode_connect("MQTT", 4, 0x1c, will, sizeof(will)), MQTT_ERR_QOS_INVALID);
    expect_err(decode_connect("MQTT", 4, 0x14, will, sizeof(will)), MQTT_OK);
}

/* MQTT-3.1.2-22 */
static void test_connect_password_without_user_MQTT_3_1_2_22(void **state)
{
    (void)state;
    static const uint8_t pw[] = {CLIENT_ID, 0, 1, 'p'};
    expect_err(decode_connect("MQTT", 4, 0x42, pw, sizeof(pw)), MQTT_ERR_PASSWORD_FLAG);
    /* 3.1 ("MQIsdp") tolerates it: test_protocol_mqtt31.c */
}

/* MQTT-3.1.2-9, MQTT-3.1.2-19, MQTT-3.1.2-21: a flagged field must be there. */
static void test_connect_flagged_field_missing_MQTT_3_1_2_9_19_21(void **state)
{
    (void)state;
    const uint8_t *pl = plain_payload;
    size_t n = sizeof(plain_payload);
    expect_err(decode_connect("MQTT", 4, 0x06, pl, n), MQTT_ERR_TRUNCATED);
    static const uint8_t no_msg[] = {CLIENT_ID, 0, 1, 'w'};
    expect_err(decode_connect("MQTT", 4, 0x06, no_msg, sizeof(no_msg)), MQTT_ERR_TRUNCATED);
    expect_err(decode_connect("MQTT", 4, 0x82, pl, n), MQTT_ERR_TRUNCATED);
    static const uint8_t user[] = {CLIENT_ID, 0, 1, 'u'};
    expect_err(decode_connect("MQTT", 4, 0xc2, user, sizeof(user)), MQTT_ERR_TRUNCATED);
    expect_err(decode_connect("MQTT", 4, 0x02, NULL, 0), MQTT_ERR_TRUNCATED); /* no client id */
}

/* MQTT-3.1.2-18, MQTT-3.1.2-20: an unflagged field must not be there. */
static void test_connect_unflagged_field_present_MQTT_3_1_2_18_20(void **state)
{
    (void)state;
    static const uint8_t user[] = {CLIENT_ID, 0, 1, 'u'};
    expect_err(decode_connect("MQTT", 4, 0x02, user, sizeof(user)), MQTT_ERR_TRAILING_BYTES);
    static const uint8_t user_pw[] = {CLIENT_ID, 0, 1, 'u', 0, 1, 'p'};
    expect_err(decode_connect("MQTT", 4, 0x82, user_pw, sizeof(user_pw)), MQTT_ERR_TRAILING_BYTES);
}

/* MQTT-3.1.3-4, MQTT-3.1.3-10, MQTT-3.1.3-11, MQTT-1.5.3-1, MQTT-1.5.3-2 */
static void test_connect_strings_utf8_MQTT_3_1_3_4_10_11(void **state)
{
    (void)state;
    static const uint8_t bad_id[] = {0, 2, 'a', 0xc1};
    expect_err(decode_connect("MQTT", 4, 0x02, bad_id, sizeof(bad_id)), MQTT_ERR_UTF8_INVALID);
    static const uint8_t null_id[] = {0, 2, 'a', 0};
    expect_err(decode_connect("MQTT", 4, 0x02, null_id, sizeof(null_id)), MQTT_ERR_UTF8_NULL);
    static const uint8_t bad_will[] = {CLIENT_ID, 0, 3, 0xed, 0xbf, 0xbf, 0, 0};
    expect_err(decode_connect("MQTT", 4, 0x06, bad_will, sizeof(bad_will)),
               MQTT_ERR_UTF8_SURROGATE);
    static const uint8_t bad_user[] = {CLIENT_ID, 0, 1, 0xfe};
    expect_err(decode_connect("MQTT", 4, 0x82, bad_user, sizeof(bad_user)), MQTT_ERR_UTF8_INVALID);
}

/* The will topic is a topic name: no wildcard, not empty. */
static void test_connect_will_topic_is_topic_name(void **state)
{
    (void)state;
    static const uint8_t wild[] = {CLIENT_ID, 0, 3, 'a', '/', '#', 0, 0};
    expect_err(decode_connect("MQTT", 4, 0x06, wild, sizeof(wild)), MQTT_ERR_TOPIC_WILDCARD);
    static const uint8_t empty[] = {CLIENT_ID, 0, 0, 0, 0};
    expect_err(decode_connect("MQTT", 4, 0x06, empty, sizeof(empty)), MQTT_ERR_TOPIC_EMPTY);
}

/* Password and will message are binary; an empty client id and a long one
 * are left to the broker. */
static void test_connect_accepted_edge_cases(void **state)
{
    (void)state;
    static const uint8_t bin[] = {CLIENT_ID, 0, 1, 'w', 0, 2, 0, 0xff, 0, 1, 'u', 0, 2, 0xc0, 0};
    expect_err(decode_connect("MQTT", 4, 0xc6, bin, sizeof(bin)), MQTT_OK);
    static const uint8_t empty_id[] = {0, 0};
    expect_err(decode_connect("MQTT", 4, 0x00, empty_id, sizeof(empty_id)), MQTT_OK);
    static const uint8_t long_id[] = {0,   40,  'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a',
                                      'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a',
                                      'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a',
                                      'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a'};
    expect_err(decode_connect("MQIsdp", 3, 0x02, long_id, sizeof(long_id)), MQTT_OK);
    expect_err(decode_connect("MQTT", 4, 0x02, long_id, sizeof(long_id)), MQTT_OK);
}

/* MQTT-3.1.0-1 */
static void test_first_packet_must_be_connect_MQTT_3_1_0_1(void **state)
{
    (void)state;
    expect_err(mqtt_check_inbound(false, MQTT_CONNECT), MQTT_OK);
    for (int t = MQTT_CONNACK; t <= MQTT_DISCONNECT; t++)
        expect_err(mqtt_check_inbound(false, (enum mqtt_type)t), MQTT_ERR_FIRST_NOT_CONNECT);
}

/* MQTT-3.1.0-2 */
static void test_second_connect_MQTT_3_1_0_2(void **state)
{
    (void)state;
    expect_err(mqtt_check_inbound(true, MQTT_CONNECT), MQTT_ERR_SECOND_CONNECT);
}

static void test_server_only_types_from_client(void **state)
{
    (void)state;
    const enum mqtt_type refused[] = {MQTT_CONNACK, MQTT_SUBACK, MQTT_UNSUBACK, MQTT_PINGRESP};
    for (size_t i = 0; i < 4; i++)
        expect_err(mqtt_check_inbound(true, refused[i]), MQTT_ERR_UNEXPECTED_TYPE);
    const enum mqtt_type allowed[] = {MQTT_PUBLISH,     MQTT_PUBACK,  MQTT_PUBREC,
                                      MQTT_PUBREL,      MQTT_PUBCOMP, MQTT_SUBSCRIBE,
                                      MQTT_UNSUBSCRIBE, MQTT_PINGREQ, MQTT_DISCONNECT};
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
        expect_err(mqtt_check_inbound(true, allowed[i]), MQTT_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_type),
        cmocka_unit_test(test_reserved_flags_table_MQTT_2_2_2_1_MQTT_2_2_2_2),
        cmocka_unit_test(test_pubrel_flags_MQTT_3_6_1_1),
        cmocka_unit_test(test_subscribe_flags_MQTT_3_8_1_1),
        cmocka_unit_test(test_unsubscribe_flags_MQTT_3_10_1_1),
        cmocka_unit_test(test_disconnect_flags_MQTT_3_14_1_1),
        cmocka_unit_test(test_publish_qos3_MQTT_3_3_1_4),
        cmocka_unit_test(test_publish_dup_qos0_MQTT_3_3_1_2),
        cmocka_unit_test(test_publish_topic_empty_MQTT_4_7_3_1),
        cmocka_unit_test(test_publish_topic_wildcard_MQTT_3_3_2_2_MQTT_4_7_1_1),
        cmocka_unit_test(test_publish_topic_utf8_MQTT_1_5_3_1_MQTT_1_5_3_2_MQTT_4_7_3_2),
        cmocka_unit_test(test_packet_id_zero_MQTT_2_3_1_1),
        cmocka_unit_test(test_ack_packet_id_zero_accepted),
        cmocka_unit_test(test_subscribe_no_topics_MQTT_3_8_3_3),
        cmocka_unit_test(test_unsubscribe_no_topics_MQTT_3_10_3_2),
        cmocka_unit_test(test_bad_filters_MQTT_4_7_1_2_MQTT_4_7_1_3),
        cmocka_unit_test(test_subscribe_requested_qos_MQTT_3_8_3_4),
        cmocka_unit_test(test_truncated_fields),
        cmocka_unit_test(test_buffer_length_mismatch),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_server_packets_checked),
        cmocka_unit_test(test_connect_protocol_name_MQTT_3_1_2_1),
        cmocka_unit_test(test_connect_protocol_level_MQTT_3_1_2_2),
        cmocka_unit_test(test_connect_reserved_flag_MQTT_3_1_2_3),
        cmocka_unit_test(test_connect_will_flags_MQTT_3_1_2_11_13_15),
        cmocka_unit_test(test_connect_will_qos3_MQTT_3_1_2_14),
        cmocka_unit_test(test_connect_password_without_user_MQTT_3_1_2_22),
        cmocka_unit_test(test_connect_flagged_field_missing_MQTT_3_1_2_9_19_21),
        cmocka_unit_test(test_connect_unflagged_field_present_MQTT_3_1_2_18_20),
        cmocka_unit_test(test_connect_strings_utf8_MQTT_3_1_3_4_10_11),
        cmocka_unit_test(test_connect_will_topic_is_topic_name),
        cmocka_unit_test(test_connect_accepted_edge_cases),
        cmocka_unit_test(test_first_packet_must_be_connect_MQTT_3_1_0_1),
        cmocka_unit_test(test_second_connect_MQTT_3_1_0_2),
        cmocka_unit_test(test_server_only_types_from_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
