/* Framing and incremental decoding: a stream of packets of every type fed
 * one byte at a time and in random-size pieces must yield the same packets
 * in order, never a partial one; remaining-length edge values; early refusal
 * of oversize and over-long headers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "protocol/mqtt.h"

#define B(s) ((struct mqtt_bytes){(const uint8_t *)(s), sizeof(s) - 1})
#define MAX_PACKETS 32
#define BIG_PAYLOAD 20000

struct stream {
    uint8_t *bytes;
    size_t len;
    size_t count;
    size_t off[MAX_PACKETS], plen[MAX_PACKETS];
};

static void add(struct stream *s, const struct mqtt_packet *p)
{
    size_t n = mqtt_encode(p, s->bytes + s->len, 2 * BIG_PAYLOAD - s->len);
    assert_int_not_equal(n, 0);
    assert_true(s->count < MAX_PACKETS);
    s->off[s->count] = s->len;
    s->plen[s->count++] = n;
    s->len += n;
}

static void add_publishes(struct stream *s, const uint8_t *big)
{
    struct mqtt_packet p = {.type = MQTT_PUBLISH};
    p.u.publish = (struct mqtt_publish){.topic = B("a/b"), .payload = B("hi")};
    add(s, &p);
    p.u.publish = (struct mqtt_publish){
        .qos = 1, .topic = B("m"), .packet_id = 5, .payload = {big, 200}}; /* 2-byte length */
    add(s, &p);
    p.u.publish = (struct mqtt_publish){
        .qos = 2, .dup = true, .topic = B("big"), .packet_id = 6, .payload = {big, BIG_PAYLOAD}};
    add(s, &p);
    p.u.publish = (struct mqtt_publish){.retain = true, .topic = B("e")};
    add(s, &p);
}

/* One packet of each of the 14 types, plus PUBLISH variants. */
static void build_stream(struct stream *s, const uint8_t *big)
{
    static const struct mqtt_sub_entry subs[] = {{B("a/+"), 1}, {B("#"), 2}};
    static const uint8_t codes[] = {1, 2};
    struct mqtt_packet p = {.type = MQTT_CONNECT};
    p.u.connect = (struct mqtt_connect){.protocol_level = 4,
                                        .clean_session = true,
                                        .keepalive = 30,
                                        .client_id = B("streamer"),
                                        .has_username = true,
                                        .username = B("u")};
    add(s, &p);
    p = (struct mqtt_packet){.type = MQTT_CONNACK, .u.connack = {true, 0}};
    add(s, &p);
    add_publishes(s, big);
    for (int t = MQTT_PUBACK; t <= MQTT_PUBCOMP; t++) {
        p = (struct mqtt_packet){.type = (enum mqtt_type)t, .u.packet_id = (uint16_t)(t * 100)};
        add(s, &p);
    }
    p = (struct mqtt_packet){.type = MQTT_SUBSCRIBE};
    p.u.subscribe = (struct mqtt_subscribe){.packet_id = 7, .count = 2, .entries = subs};
    add(s, &p);
    p = (struct mqtt_packet){.type = MQTT_SUBACK};
    p.u.suback = (struct mqtt_suback){.packet_id = 7, .count = 2, .codes = codes};
    add(s, &p);
    p = (struct mqtt_packet){.type = MQTT_UNSUBSCRIBE};
    p.u.subscribe = (struct mqtt_subscribe){.packet_id = 8, .count = 2, .entries = subs};
    add(s, &p);
    p = (struct mqtt_packet){.type = MQTT_UNSUBACK, .u.packet_id = 8};
    add(s, &p);
    for (int t = MQTT_PINGREQ; t <= MQTT_DISCONNECT; t++) {
        p = (struct mqtt_packet){.type = (enum mqtt_type)t};
        add(s, &p);
    }
}

static int setup(void **state)
{
    struct stream *s = calloc(1, sizeof(*s));
    uint8_t *big = malloc(BIG_PAYLOAD);
    if (!s || !big) return -1;
    for (size_t i = 0; i < BIG_PAYLOAD; i++)
        big[i] = (uint8_t)(i * 7);
    s->bytes = malloc(2 * BIG_PAYLOAD);
    if (!s->bytes) return -1;
    build_stream(s, big);
    free(big); /* the stream holds its own copy */
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    struct stream *s = *state;
    free(s->bytes);
    free(s);
    return 0;
}

/* Feeds the stream in pieces (sizes from next_piece) through mqtt_next. */
struct feeder {
    const struct stream *s;
    uint8_t *acc;
    size_t acc_len, fed, next_packet;
};

/* Decodes what the accumulation buffer holds; checks each packet is the
 * expected one, whole, and that INCOMPLETE only ever means "not all here". */
static void drain(struct feeder *f)
{
    const struct stream *s = f->s;
    for (;;) {
        struct mqtt_packet p;
        size_t consumed = 99;
        enum mqtt_err rc = mqtt_next(f->acc, f->acc_len, 1 << 20, &p, &consumed);
        if (rc == MQTT_ERR_INCOMPLETE) {
            assert_int_equal(consumed, 0);
            assert_true(f->next_packet == s->count || f->acc_len < s->plen[f->next_packet]);
            return;
        }
        assert_int_equal(rc, MQTT_OK);
        size_t k = f->next_packet++;
        assert_true(k < s->count);
        assert_int_equal(consumed, s->plen[k]);
        assert_memory_equal(f->acc, s->bytes + s->off[k], consumed);
        /* same fields: re-encoding what was decoded gives the original bytes */
        uint8_t *re = malloc(consumed);
        assert_non_null(re);
        assert_int_equal(mqtt_encode(&p, re, consumed), consumed);
        assert_memory_equal(re, s->bytes + s->off[k], consumed);
        free(re);
        memmove(f->acc, f->acc + consumed, f->acc_len - consumed);
        f->acc_len -= consumed;
    }
}

static uint32_t xorshift(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* piece_max 1: one byte at a time; otherwise random sizes 1..piece_max. */
static void feed_stream(const struct stream *s, uint32_t seed, size_t piece_max)
{
    struct feeder f = {.s = s, .acc = malloc(s->len)};
    assert_non_null(f.acc);
    while (f.fed < s->len) {
        size_t n = piece_max == 1 ? 1 : 1 + xorshift(&seed) % piece_max;
        if (n > s->len - f.fed) n = s->len - f.fed;
        memcpy(f.acc + f.acc_len, s->bytes + f.fed, n);
        f.acc_len += n;
        f.fed += n;
        drain(&f);
    }
    assert_int_equal(f.next_packet, s->count);
    assert_int_equal(f.acc_len, 0);
    free(f.acc);
}

static void test_stream_one_byte_at_a_time(void **state)
{
    const struct stream *s = *state;
    assert_true(s->count >= 17);
    feed_stream(s, 0, 1);
}

static void test_stream_random_splits(void **state)
{
    const struct stream *s = *state;
    const size_t piece_max[] = {3, 17, 300, 5000, 50000};
    for (uint32_t seed = 1; seed <= 40; seed++)
        feed_stream(s, seed * 2654435761u, piece_max[seed % 5]);
}

static void test_stream_whole_at_once(void **state)
{
    const struct stream *s = *state;
    feed_stream(s, 7, s->len);
}

/* Remaining-length edge values from the table in 2.2.3. */
static const struct {
    size_t value;
    uint8_t bytes[4];
    size_t n;
} edges[] = {
    {0, {0x00}, 1},
    {127, {0x7f}, 1},
    {128, {0x80, 0x01}, 2},
    {16383, {0xff, 0x7f}, 2},
    {16384, {0x80, 0x80, 0x01}, 3},
    {2097151, {0xff, 0xff, 0x7f}, 3},
    {2097152, {0x80, 0x80, 0x80, 0x01}, 4},
    {268435455, {0xff, 0xff, 0xff, 0x7f}, 4},
};

static void test_remlen_encode_edges(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
        uint8_t out[4];
        assert_int_equal(mqtt_remlen_encode(out, edges[i].value), edges[i].n);
        assert_memory_equal(out, edges[i].bytes, edges[i].n);
    }
    uint8_t out[4];
    assert_int_equal(mqtt_remlen_encode(out, 268435456), 0);
}

/* Whole PUBLISH packets at each edge up to 2097152 bytes. */
static void test_remlen_edges_decode(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]) - 1; i++) {
        size_t v = edges[i].value, total = 1 + edges[i].n + v;
        uint8_t *buf = calloc(1, total);
        assert_non_null(buf);
        struct mqtt_packet p = {.type = MQTT_PINGREQ};
        if (v >= 3) {
            p.type = MQTT_PUBLISH;
            p.u.publish.topic = B("t");
            p.u.publish.payload = (struct mqtt_bytes){buf, v - 3}; /* calloc'd zeros */
        }
        uint8_t *enc = malloc(total);
        assert_non_null(enc);
        assert_int_equal(mqtt_encode(&p, enc, total), total);
        assert_memory_equal(enc + 1, edges[i].bytes, edges[i].n);
        size_t plen;
        assert_int_equal(mqtt_frame(enc, total - 1, 0, &plen), MQTT_ERR_INCOMPLETE);
        assert_int_equal(mqtt_frame(enc, total, total, &plen), MQTT_OK);
        assert_int_equal(plen, total);
        struct mqtt_packet d;
        assert_int_equal(mqtt_decode(enc, total, &d), MQTT_OK);
        if (v >= 3) assert_int_equal(d.u.publish.payload.len, v - 3);
        free(enc);
        free(buf);
    }
}

static void test_remlen_max_via_frame(void **state)
{
    (void)state;
    static const uint8_t head[] = {0x30, 0xff, 0xff, 0xff, 0x7f, 0, 1, 't'};
    const size_t total = 1 + 4 + 268435455u;
    size_t plen;
    assert_int_equal(mqtt_frame(head, sizeof(head), 0, &plen), MQTT_ERR_INCOMPLETE);
    assert_int_equal(mqtt_frame(head, sizeof(head), total, &plen), MQTT_ERR_INCOMPLETE);
    assert_int_equal(mqtt_frame(head, sizeof(head), total - 1, &plen), MQTT_ERR_TOO_LARGE);
}

/* A length that would need a 5th byte is refused once the 4th shows it. */
static void test_remlen_five_bytes_rejected(void **state)
{
    (void)state;
    static const uint8_t five[] = {0x30, 0xff, 0xff, 0xff, 0xff, 0x7f};
    static const uint8_t zeros[] = {0x30, 0x80, 0x80, 0x80, 0x80, 0x00};
    size_t plen;
    assert_int_equal(mqtt_frame(five, 4, 0, &plen), MQTT_ERR_INCOMPLETE);
    assert_int_equal(mqtt_frame(five, 5, 0, &plen), MQTT_ERR_REMLEN_OVERFLOW);
    assert_int_equal(mqtt_frame(five, 6, 0, &plen), MQTT_ERR_REMLEN_OVERFLOW);
    assert_int_equal(mqtt_frame(zeros, 6, 0, &plen), MQTT_ERR_REMLEN_OVERFLOW);
    struct mqtt_packet p;
    size_t consumed;
    assert_int_equal(mqtt_next(five, 5, 0, &p, &consumed), MQTT_ERR_REMLEN_OVERFLOW);
    assert_int_equal(consumed, 0);
}

/* Too large is known from the header alone: the body never has to arrive. */
static void test_too_large_before_body(void **state)
{
    (void)state;
    static const uint8_t head[] = {0x30, 0x80, 0x08}; /* remaining length 1024 */
    size_t plen;
    struct mqtt_packet p;
    assert_int_equal(mqtt_frame(head, 2, 512, &plen), MQTT_ERR_INCOMPLETE);
    assert_int_equal(mqtt_frame(head, 3, 512, &plen), MQTT_ERR_TOO_LARGE);
    assert_int_equal(mqtt_next(head, 3, 512, &p, &plen), MQTT_ERR_TOO_LARGE);
    /* the limit counts the whole packet, fixed header included: 3 + 1024 */
    assert_int_equal(mqtt_frame(head, 3, 1026, &plen), MQTT_ERR_TOO_LARGE);
    assert_int_equal(mqtt_frame(head, 3, 1027, &plen), MQTT_ERR_INCOMPLETE);
}

/* In a stream, the oversize packet is refused as soon as its header is in. */
static void test_too_large_in_stream(void **state)
{
    const struct stream *s = *state;
    const size_t limit = 1000;
    size_t k = 0;
    while (k < s->count && s->plen[k] <= limit)
        k++;
    assert_true(k < s->count);
    const uint8_t *pkt = s->bytes + s->off[k];
    size_t header = 2;
    while (header < 6 && (pkt[header - 1] & 0x80))
        header++;
    for (size_t have = 1; have <= header; have++) {
        struct mqtt_packet p;
        size_t consumed;
        enum mqtt_err rc = mqtt_next(pkt, have, limit, &p, &consumed);
        assert_int_equal(rc, have < header ? MQTT_ERR_INCOMPLETE : MQTT_ERR_TOO_LARGE);
        assert_int_equal(consumed, 0);
    }
}

/* The frame layer reports a bad type from the first byte alone. */
static void test_frame_bad_type_first_byte(void **state)
{
    (void)state;
    static const uint8_t zero = 0x00, fifteen = 0xf0;
    size_t plen;
    assert_int_equal(mqtt_frame(&zero, 1, 0, &plen), MQTT_ERR_BAD_TYPE);
    assert_int_equal(mqtt_frame(&fifteen, 1, 0, &plen), MQTT_ERR_BAD_TYPE);
    assert_int_equal(mqtt_frame(&zero, 0, 0, &plen), MQTT_ERR_INCOMPLETE);
}

/* A malformed packet after good ones stops the stream with its error. */
static void test_next_reports_decode_error(void **state)
{
    (void)state;
    static const uint8_t bytes[] = {0xc0, 0, 0x30, 3, 0, 1, '#'};
    struct mqtt_packet p;
    size_t consumed;
    assert_int_equal(mqtt_next(bytes, sizeof(bytes), 0, &p, &consumed), MQTT_OK);
    assert_int_equal(consumed, 2);
    assert_int_equal(mqtt_next(bytes + 2, sizeof(bytes) - 2, 0, &p, &consumed),
                     MQTT_ERR_TOPIC_WILDCARD);
    assert_int_equal(consumed, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stream_one_byte_at_a_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_random_splits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_whole_at_once, setup, teardown),
        cmocka_unit_test(test_remlen_encode_edges),
        cmocka_unit_test(test_remlen_edges_decode),
        cmocka_unit_test(test_remlen_max_via_frame),
        cmocka_unit_test(test_remlen_five_bytes_rejected),
        cmocka_unit_test(test_too_large_before_body),
        cmocka_unit_test_setup_teardown(test_too_large_in_stream, setup, teardown),
        cmocka_unit_test(test_frame_bad_type_first_byte),
        cmocka_unit_test(test_next_reports_decode_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
