/* UTF-8 validation (1.5.3), topic name and filter rules (4.7.1, 4.7.3) and
 * the reference topic matcher (4.7), including the spec's own examples. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "protocol/mqtt.h"

#define U(s) ((const uint8_t *)(s)), (sizeof(s) - 1)

static enum mqtt_err filter_check(const char *s)
{
    return mqtt_topic_filter_check((const uint8_t *)s, strlen(s));
}

static bool matches(const char *filter, const char *topic)
{
    return mqtt_topic_matches((const uint8_t *)filter, strlen(filter), (const uint8_t *)topic,
                              strlen(topic));
}

static void test_utf8_valid(void **state)
{
    (void)state;
    assert_int_equal(mqtt_utf8_check(U("")), MQTT_OK);
    assert_int_equal(mqtt_utf8_check(U("plain ascii topic/with/levels")), MQTT_OK);
    assert_int_equal(mqtt_utf8_check(U("\xc2\x80 \xdf\xbf")), MQTT_OK); /* U+0080, U+07FF */
    assert_int_equal(mqtt_utf8_check(U("\xe0\xa0\x80 \xef\xbf\xbf")), MQTT_OK);
    assert_int_equal(mqtt_utf8_check(U("\xed\x9f\xbf \xee\x80\x80")), MQTT_OK); /* D7FF, E000 */
    assert_int_equal(mqtt_utf8_check(U("\xf0\x90\x80\x80 \xf4\x8f\xbf\xbf")), MQTT_OK);
    /* control characters and non-characters are only "SHOULD NOT": accepted */
    assert_int_equal(mqtt_utf8_check(U("\x01\x7f\xc2\x9f")), MQTT_OK);
    /* MQTT-1.5.3-3: the BOM U+FEFF is an ordinary character */
    assert_int_equal(mqtt_utf8_check(U("\xef\xbb\xbf")), MQTT_OK);
}

/* MQTT-1.5.3-1 */
static void test_utf8_ill_formed_MQTT_1_5_3_1(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t len;
    } bad[] = {
        {"\xc0\x80", 2},
        {"\xc1\xbf", 2},
        {"\xe0\x80\x80", 3},
        {"\xe0\x9f\xbf", 3},
        {"\xf0\x80\x80\x80", 4},
        {"\xf0\x8f\xbf\xbf", 4},
        {"\xf4\x90\x80\x80", 4},
        {"\xf5\x80\x80\x80", 4},
        {"\xff", 1},
        {"\xfe", 1},
        {"\x80", 1},
        {"a\xbf", 2},
        {"\xc3", 1},
        {"\xe2\x82", 2},
        {"\xf0\x9f\x98", 3},
        {"\xc3\x28", 2},
        {"\xe2\x28\xa1", 3},
        {"\xf0\x9f\x28\x80", 4},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(mqtt_utf8_check((const uint8_t *)bad[i].s, bad[i].len),
                         MQTT_ERR_UTF8_INVALID);
}

/* MQTT-1.5.3-1: surrogate code points are refused with their own code. */
static void test_utf8_surrogates_MQTT_1_5_3_1(void **state)
{
    (void)state;
    assert_int_equal(mqtt_utf8_check(U("\xed\xa0\x80")), MQTT_ERR_UTF8_SURROGATE);
    assert_int_equal(mqtt_utf8_check(U("ab\xed\xbf\xbf")), MQTT_ERR_UTF8_SURROGATE);
    assert_int_equal(mqtt_utf8_check(U("\xed\xb0\x80xyz")), MQTT_ERR_UTF8_SURROGATE);
}

/* MQTT-1.5.3-2, MQTT-4.7.3-2 */
static void test_utf8_null_MQTT_1_5_3_2(void **state)
{
    (void)state;
    assert_int_equal(mqtt_utf8_check(U("\0")), MQTT_ERR_UTF8_NULL);
    assert_int_equal(mqtt_utf8_check(U("abc\0")), MQTT_ERR_UTF8_NULL);
    assert_int_equal(mqtt_topic_name_check(U("a/\0/b")), MQTT_ERR_UTF8_NULL);
    assert_int_equal(mqtt_topic_filter_check(U("a/\0/#")), MQTT_ERR_UTF8_NULL);
}

/* The 8-bytes-at-a-time path must see a bad byte at every offset. */
static void test_utf8_bad_byte_at_every_offset(void **state)
{
    (void)state;
    uint8_t s[40];
    for (size_t len = 1; len <= sizeof(s); len++) {
        for (size_t at = 0; at < len; at++) {
            memset(s, 'a', len);
            assert_int_equal(mqtt_utf8_check(s, len), MQTT_OK);
            s[at] = 0;
            assert_int_equal(mqtt_utf8_check(s, len), MQTT_ERR_UTF8_NULL);
            s[at] = 0x80;
            assert_int_equal(mqtt_utf8_check(s, len), MQTT_ERR_UTF8_INVALID);
            s[at] = 0xff;
            assert_int_equal(mqtt_utf8_check(s, len), MQTT_ERR_UTF8_INVALID);
        }
    }
}

/* Multi-byte characters straddling the 8-byte chunks are still decoded. */
static void test_utf8_multibyte_across_chunks(void **state)
{
    (void)state;
    uint8_t s[24];
    static const uint8_t four[] = {0xf0, 0x9f, 0x98, 0x80}; /* U+1F600 */
    for (size_t at = 0; at + 4 <= sizeof(s); at++) {
        memset(s, 'x', sizeof(s));
        memcpy(s + at, four, 4);
        assert_int_equal(mqtt_utf8_check(s, sizeof(s)), MQTT_OK);
        assert_int_equal(mqtt_utf8_check(s, at + 3), MQTT_ERR_UTF8_INVALID); /* cut short */
    }
}

/* MQTT-1.5.3-3: a PUBLISH topic keeps its BOM; it is neither stripped nor
 * skipped, so the topic differs from the one without it. */
static void test_bom_kept_in_topic_MQTT_1_5_3_3(void **state)
{
    (void)state;
    static const uint8_t bytes[] = {0x30, 6, 0, 4, 0xef, 0xbb, 0xbf, 'a'};
    struct mqtt_packet p;
    assert_int_equal(mqtt_decode(bytes, sizeof(bytes), &p), MQTT_OK);
    assert_int_equal(p.u.publish.topic.len, 4);
    assert_memory_equal(p.u.publish.topic.data,
                        "\xef\xbb\xbf"
                        "a",
                        4);
    assert_false(mqtt_topic_matches(U("a"), p.u.publish.topic.data, p.u.publish.topic.len));
    assert_true(mqtt_topic_matches(U("\xef\xbb\xbf"
                                     "a"),
                                   p.u.publish.topic.data, 4));
}

/* MQTT-4.7.1-1, MQTT-4.7.3-1 */
static void test_topic_name_check_MQTT_4_7_1_1_MQTT_4_7_3_1(void **state)
{
    (void)state;
    assert_int_equal(mqtt_topic_name_check(U("")), MQTT_ERR_TOPIC_EMPTY);
    assert_int_equal(mqtt_topic_name_check(U("a/+/b")), MQTT_ERR_TOPIC_WILDCARD);
    assert_int_equal(mqtt_topic_name_check(U("#")), MQTT_ERR_TOPIC_WILDCARD);
    assert_int_equal(mqtt_topic_name_check(U("sport+")), MQTT_ERR_TOPIC_WILDCARD);
    assert_int_equal(mqtt_topic_name_check(U("/")), MQTT_OK);
    assert_int_equal(mqtt_topic_name_check(U("a//b")), MQTT_OK);
    assert_int_equal(mqtt_topic_name_check(U("$SYS/broker")), MQTT_OK);
    assert_int_equal(mqtt_topic_name_check(U("\xc3\xa9t\xc3\xa9")), MQTT_OK);
    assert_int_equal(mqtt_topic_name_check(U("\xc3")), MQTT_ERR_UTF8_INVALID);
}

static void test_valid_filters(void **state)
{
    (void)state;
    static const char *const ok[] = {"#",
                                     "+",
                                     "sport/#",
                                     "sport/tennis/+",
                                     "+/+",
                                     "/+",
                                     "/finance",
                                     "a//b",
                                     "/",
                                     "//",
                                     "+/#",
                                     "+/tennis/#",
                                     "sport/+/player1",
                                     "$SYS/#",
                                     "a/+/+/b/#",
                                     "+//+"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        assert_int_equal(filter_check(ok[i]), MQTT_OK);
}

/* MQTT-4.7.1-2, MQTT-4.7.1-3, MQTT-4.7.3-1 */
static void test_invalid_filters_MQTT_4_7_1_2_MQTT_4_7_1_3(void **state)
{
    (void)state;
    static const char *const bad[] = {"sport/tennis#",
                                      "sport/tennis/#/ranking",
                                      "sport+",
                                      "a/#/b",
                                      "a+",
                                      "#/",
                                      "##",
                                      "+a",
                                      "a/b#",
                                      "++",
                                      "#+",
                                      "/#/",
                                      "a/+b/c",
                                      "+#"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(filter_check(bad[i]), MQTT_ERR_FILTER_INVALID);
    assert_int_equal(filter_check(""), MQTT_ERR_TOPIC_EMPTY);
    assert_int_equal(mqtt_topic_filter_check(U("a/\xed\xa0\x80")), MQTT_ERR_UTF8_SURROGATE);
}

static const struct {
    const char *filter, *topic;
    bool match;
} table[] = {
    /* 4.7.1.2 */
    {"sport/tennis/player1/#", "sport/tennis/player1", true},
    {"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
    {"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
    {"sport/tennis/player1/#", "sport/tennis/player2", false},
    {"sport/tennis/player1/#", "sport/tennis", false},
    {"sport/#", "sport", true},
    {"#", "sport/tennis", true},
    {"#", "/", true},
    /* 4.7.1.3 */
    {"sport/tennis/+", "sport/tennis/player1", true},
    {"sport/tennis/+", "sport/tennis/player2", true},
    {"sport/tennis/+", "sport/tennis/player1/ranking", false},
    {"sport/+", "sport", false},
    {"sport/+", "sport/", true},
    {"+/+", "/finance", true},
    {"/+", "/finance", true},
    {"+", "/finance", false},
    {"+", "finance", true},
    {"+/tennis/#", "sport/tennis/player1", true},
    /* exact levels, empty levels */
    {"a//b", "a//b", true},
    {"a//b", "a/b", false},
    {"a/+/b", "a//b", true},
    {"/finance", "finance", false},
    {"finance", "/finance", false},
    {"a/b", "a/b/", false},
    {"a/b/", "a/b", false},
    {"a/b", "a/bc", false},
    {"a/bc", "a/b", false},
    {"a/#", "a/", true},
    {"+/#", "a", true},
};

static void test_match_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (matches(table[i].filter, table[i].topic) != table[i].match)
            print_error("filter \"%s\" topic \"%s\": want %d\n", table[i].filter, table[i].topic,
                        table[i].match);
        assert_int_equal(matches(table[i].filter, table[i].topic), table[i].match);
    }
}

/* MQTT-4.7.2-1 */
static void test_dollar_topics_MQTT_4_7_2_1(void **state)
{
    (void)state;
    assert_false(matches("#", "$SYS/monitor/Clients"));
    assert_false(matches("+/monitor/Clients", "$SYS/monitor/Clients"));
    assert_false(matches("+", "$SYS"));
    assert_false(matches("+/#", "$SYS/x"));
    assert_true(matches("$SYS/#", "$SYS/monitor/Clients"));
    assert_true(matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
    assert_true(matches("$SYS/#", "$SYS"));
    /* only a leading '$' is special */
    assert_true(matches("+/$x", "a/$x"));
    assert_true(matches("a/#", "a/$x"));
}

/* MQTT-4.7.3-4: raw bytes, case sensitive, no Unicode normalisation. */
static void test_no_normalisation_MQTT_4_7_3_4(void **state)
{
    (void)state;
    assert_false(matches("ACCOUNTS", "Accounts"));
    assert_false(matches("Accounts/+", "accounts/x"));
    assert_true(matches("Accounts", "Accounts"));
    /* precomposed e-acute vs e + combining acute */
    assert_false(matches("caf\xc3\xa9", "cafe\xcc\x81"));
    assert_true(matches("caf\xc3\xa9/+", "caf\xc3\xa9/x"));
}

static size_t levels(const char *s)
{
    return mqtt_topic_levels((const uint8_t *)s, strlen(s));
}

/* Levels are what the broker bounds: empty levels count like any other. */
static void test_topic_levels(void **state)
{
    (void)state;
    assert_int_equal(levels("a"), 1);
    assert_int_equal(levels("a/b"), 2);
    assert_int_equal(levels("/"), 2);
    assert_int_equal(levels("//"), 3);
    assert_int_equal(levels("a/+/#"), 3);
    assert_int_equal(levels("/finance/"), 3);
    char deep[601];
    for (int i = 0; i < 300; i++) {
        deep[2 * i] = 'x';
        deep[2 * i + 1] = '/';
    }
    deep[599] = '\0'; /* 300 levels, the last without its slash */
    assert_int_equal(levels(deep), 300);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_utf8_ill_formed_MQTT_1_5_3_1),
        cmocka_unit_test(test_utf8_surrogates_MQTT_1_5_3_1),
        cmocka_unit_test(test_utf8_null_MQTT_1_5_3_2),
        cmocka_unit_test(test_utf8_bad_byte_at_every_offset),
        cmocka_unit_test(test_utf8_multibyte_across_chunks),
        cmocka_unit_test(test_bom_kept_in_topic_MQTT_1_5_3_3),
        cmocka_unit_test(test_topic_name_check_MQTT_4_7_1_1_MQTT_4_7_3_1),
        cmocka_unit_test(test_valid_filters),
        cmocka_unit_test(test_invalid_filters_MQTT_4_7_1_2_MQTT_4_7_1_3),
        cmocka_unit_test(test_match_table),
        cmocka_unit_test(test_dollar_topics_MQTT_4_7_2_1),
        cmocka_unit_test(test_no_normalisation_MQTT_4_7_3_4),
        cmocka_unit_test(test_topic_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
