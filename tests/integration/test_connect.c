/* CONNECT / CONNACK against the real broker: return codes, session-present
 * bit, rejected and malformed CONNECTs, client ids, takeover. */
#include "tests/integration/harness.h"

#include <string.h>
#include <unistd.h>

/* Offset of the connect-flags byte in a CONNECT body built for "MQTT". */
#define FLAGS_AT 7

static const uint8_t connack_ok[] = {0x20, 2, 0, 0};

/* Send this CONNECT body and expect the connection to close without a reply. */
static void expect_connect_dropped(struct itest *t, const struct wbuf *w)
{
    int fd = it_tcp(t);
    send_packet(fd, 0x10, w);
    expect_closed(fd, IT_WAIT);
}

/* Send this CONNECT body and expect CONNACK with `code`, then a close. */
static void expect_connack_refused(struct itest *t, const struct wbuf *w, uint8_t code)
{
    int fd = it_tcp(t);
    send_packet(fd, 0x10, w);
    uint8_t want[] = {0x20, 2, 0, code};
    expect_bytes(fd, want, sizeof want, IT_WAIT);
    expect_closed(fd, IT_WAIT);
}

/* MQTT-3.1.4-4 MQTT-3.2.2-1 MQTT-7.1.1-1 */
ITEST(test_connack_accepted_clean)
{
    static struct wbuf w;
    struct conn_opts o = {.client_id = "c1", .clean = true, .keepalive = 30};
    int fd = it_tcp(t);
    build_connect(&w, &o);
    send_packet(fd, 0x10, &w);
    expect_bytes(fd, connack_ok, sizeof connack_ok, IT_WAIT);
}

/* CONNACK comes before the replies to packets pipelined behind CONNECT.
 * MQTT-3.2.0-1 MQTT-3.12.4-1 */
ITEST(test_connack_is_first_packet)
{
    static struct wbuf w;
    struct conn_opts o = {.client_id = "pipelined", .clean = true, .keepalive = 30};
    int fd = it_tcp(t);
    build_connect(&w, &o);
    /* CONNECT, SUBSCRIBE(id 7, "p/q" QoS 1), PINGREQ in one write */
    uint8_t tail[] = {0x82, 8, 0, 7, 0, 3, 'p', '/', 'q', 1, 0xc0, 0};
    uint8_t out[128];
    out[0] = 0x10;
    out[1] = (uint8_t)w.n;
    memcpy(out + 2, w.d, w.n);
    memcpy(out + 2 + w.n, tail, sizeof tail);
    send_bytes(fd, out, 2 + w.n + sizeof tail);
    expect_bytes(fd, connack_ok, sizeof connack_ok, IT_WAIT);
    uint8_t suback[] = {0x90, 3, 0, 7, 1};
    expect_bytes(fd, suback, sizeof suback, IT_WAIT);
    uint8_t pingresp[] = {0xd0, 0};
    expect_bytes(fd, pingresp, sizeof pingresp, IT_WAIT);
}

/* MQTT-3.1.2-2 MQTT-3.2.2-4 MQTT-3.2.2-5 */
ITEST(test_unsupported_protocol_level)
{
    static struct wbuf w;
    struct conn_opts o = {.client_id = "lvl", .clean = true, .keepalive = 30};
    build_connect(&w, &o);
    w.d[6] = 6; /* protocol level byte */
    expect_connack_refused(t, &w, 0x01);
}

/* MQTT-3.1.2-1 MQTT-3.1.4-1 */
ITEST(test_unknown_protocol_name)
{
    static struct wbuf w;
    struct conn_opts o = {.client_id = "name", .clean = true, .keepalive = 30};
    build_connect(&w, &o);
    w.d[5] = 'X'; /* "MQTX" */
    expect_connect_dropped(t, &w);
}

/* MQTT 3.1 clients say "MQIsdp" with level 3; the broker accepts them. */
ITEST(test_mqisdp_level3_accepted)
{
    static const uint8_t connect[] = {0x10, 18, 0, 6,  'M', 'Q', 'I', 's', 'd', 'p',
                                      3,    2,  0, 30, 0,   4,   'o', 'l', 'd', '1'};
    int fd = it_tcp(t);
    send_bytes(fd, connect, sizeof connect);
    expect_bytes(fd, connack_ok, sizeof connack_ok, IT_WAIT);
    subscribe(fd, "legacy", 1);
}

/* No CONNACK code fits a malformed CONNECT: close without one.
 * MQTT-3.1.2-3 MQTT-3.1.4-1 MQTT-3.2.2-6 */
ITEST(test_reserved_connect_flag)
{
    static struct wbuf w;
    struct conn_opts o = {.client_id = "rsv", .clean = true, .keepalive = 30};
    build_connect(&w, &o);
    w.d[FLAGS_AT] |= 0x01;
    expect_connect_dropped(t, &w);
}

/* Two clients with an empty id both get in: each gets an id of its own
 * (the second does not take the first over). MQTT-3.1.3-6 */
ITEST(test_empty_client_id_clean_session)
{
    struct conn_opts o = {.client_id = "", .clean = true, .keepalive = 30};
    bool sp = true;
    int a = it_connect(t, &o, &sp);
    assert_false(sp);
    int b = it_connect(t, &o, NULL);
    uint8_t ping[] = {0xc0, 0}, pong[] = {0xd0, 0};
    send_bytes(a, ping, 2);
    expect_bytes(a, pong, 2, IT_WAIT);
    send_bytes(b, ping, 2);
    expect_bytes(b, pong, 2, IT_WAIT);
}

/* MQTT-3.1.3-7 MQTT-3.1.3-8 MQTT-3.1.3-9 MQTT-3.2.2-4 MQTT-3.2.2-5 */
ITEST(test_empty_client_id_persistent_rejected)
{
    static struct wbuf w;
    struct conn_opts o = {.client_id = "", .clean = false, .keepalive = 30};
    build_connect(&w, &o);
    expect_connack_refused(t, &w, 0x02);
}

/* Data pipelined behind a refused CONNECT is not acted on. MQTT-3.1.4-5 */
ITEST(test_refused_connect_ignores_following_data)
{
    struct conn_opts o = {.client_id = "", .clean = false, .keepalive = 30};
    uint8_t out[128];
    size_t n = connect_packet(out, sizeof out, &o);
    /* PUBLISH retained "rej/t" = "x" */
    uint8_t pub[] = {0x31, 8, 0, 5, 'r', 'e', 'j', '/', 't', 'x'};
    memcpy(out + n, pub, sizeof pub);
    n += sizeof pub;
    int fd = it_tcp(t);
    send_bytes(fd, out, n);
    uint8_t want[] = {0x20, 2, 0, 2};
    expect_bytes(fd, want, sizeof want, IT_WAIT);
    expect_closed(fd, IT_WAIT);
    int sub = it_client(t, "rejcheck");
    subscribe(sub, "rej/#", 0);
    expect_silence(sub, IT_QUIET);
}

/* MQTT-3.2.2-4 MQTT-3.2.2-5 */
ITEST(test_anonymous_refused_when_disabled)
{
    static struct wbuf w;
    struct broker_cfg cfg = {.deny_anonymous = true};
    it_restart(t, &cfg);
    struct conn_opts o = {.client_id = "anon", .clean = true, .keepalive = 30};
    build_connect(&w, &o);
    expect_connack_refused(t, &w, 0x05);
}

/* MQTT-3.1.3-5 */
ITEST(test_client_id_1_to_23_alphanumerics)
{
    const char *ids[] = {"Z", "0123456789abcdeXYZwvuTs", "a1B2c3"};
    for (int i = 0; i < 3; i++) {
        struct conn_opts o = {.client_id = ids[i], .clean = true, .keepalive = 30};
        int fd = it_connect(t, &o, NULL);
        subscribe(fd, "ids/x", 0);
    }
}

/* MQTT-3.1.0-1 MQTT-4.8.0-1 */
ITEST(test_first_packet_not_connect)
{
    uint8_t ping[] = {0xc0, 0};
    int a = it_tcp(t);
    send_bytes(a, ping, sizeof ping);
    expect_closed(a, IT_WAIT);
    uint8_t pub[] = {0x30, 5, 0, 1, 'x', 'h', 'i'};
    int b = it_tcp(t);
    send_bytes(b, pub, sizeof pub);
    expect_closed(b, IT_WAIT);
}

/* MQTT-3.1.0-2 */
ITEST(test_second_connect_closes)
{
    struct conn_opts o = {.client_id = "twice", .clean = true, .keepalive = 30};
    int fd = it_connect(t, &o, NULL);
    send_connect(fd, &o);
    expect_closed(fd, IT_WAIT);
}

/* Will QoS / Will Retain bits without the will flag. MQTT-3.1.2-11 MQTT-3.1.2-13 MQTT-3.1.2-15 */
ITEST(test_will_bits_without_will_flag)
{
    static struct wbuf w;
    struct conn_opts o = {.client_id = "nowill", .clean = true, .keepalive = 30};
    build_connect(&w, &o);
    w.d[FLAGS_AT] |= 0x08; /* will QoS 1 */
    expect_connect_dropped(t, &w);
    build_connect(&w, &o);
    w.d[FLAGS_AT] |= 0x20; /* will retain */
    expect_connect_dropped(t, &w);
}

/* MQTT-3.1.2-14 */
ITEST(test_will_qos_3)
{
    static struct wbuf w;
    struct conn_opts o = {.client_id = "wq3",
                          .clean = true,
                          .keepalive = 30,
                          .will_topic = "w/t",
                          .will_payload = "x"};
    build_connect(&w, &o);
    w.d[FLAGS_AT] |= 0x18;
    expect_connect_dropped(t, &w);
}

/* Will flag set but the payload ends after the client id. MQTT-3.1.2-9 */
ITEST(test_will_flag_without_will_fields)
{
    static struct wbuf w;
    struct conn_opts o = {.client_id = "wmiss", .clean = true, .keepalive = 30};
    build_connect(&w, &o);
    w.d[FLAGS_AT] |= 0x04;
    expect_connect_dropped(t, &w);
}

/* MQTT-3.1.2-22 */
ITEST(test_password_without_username)
{
    static struct wbuf w;
    struct conn_opts o = {.client_id = "pw", .clean = true, .keepalive = 30, .password = "secret"};
    build_connect(&w, &o);
    expect_connect_dropped(t, &w);
}

/* Flag set, field missing. MQTT-3.1.2-19 MQTT-3.1.2-21 */
ITEST(test_flagged_field_missing)
{
    static struct wbuf w;
    struct conn_opts o = {.client_id = "um", .clean = true, .keepalive = 30};
    build_connect(&w, &o);
    w.d[FLAGS_AT] |= 0x80; /* user name flag, no user name */
    expect_connect_dropped(t, &w);
    struct conn_opts p = {.client_id = "pm", .clean = true, .keepalive = 30, .username = "u"};
    build_connect(&w, &p);
    w.d[FLAGS_AT] |= 0x40; /* password flag, no password */
    expect_connect_dropped(t, &w);
}

/* Field present, flag clear. MQTT-3.1.2-18 MQTT-3.1.2-20 */
ITEST(test_field_without_flag)
{
    static struct wbuf w;
    struct conn_opts o = {.client_id = "uf", .clean = true, .keepalive = 30, .username = "u"};
    build_connect(&w, &o);
    w.d[FLAGS_AT] &= (uint8_t)~0x80;
    expect_connect_dropped(t, &w);
    struct conn_opts p = {
        .client_id = "pf", .clean = true, .keepalive = 30, .username = "u", .password = "p"};
    build_connect(&w, &p);
    w.d[FLAGS_AT] &= (uint8_t)~0x40;
    expect_connect_dropped(t, &w);
}

/* The payload must start with the client id. MQTT-3.1.3-3 */
ITEST(test_client_id_missing)
{
    static struct wbuf w;
    struct conn_opts o = {.client_id = "", .clean = true, .keepalive = 30};
    build_connect(&w, &o);
    w.n -= 2; /* drop the (empty) client id field */
    expect_connect_dropped(t, &w);
}

/* MQTT-3.1.3-4 MQTT-1.5.3-1 */
ITEST(test_client_id_bad_utf8)
{
    static struct wbuf w;
    struct conn_opts o = {.client_id = "ab\xc0\xafz", .clean = true, .keepalive = 30};
    build_connect(&w, &o);
    expect_connect_dropped(t, &w);
}

/* MQTT-3.1.3-10 MQTT-1.5.3-1 */
ITEST(test_will_topic_bad_utf8)
{
    static struct wbuf w;
    struct conn_opts o = {.client_id = "wt",
                          .clean = true,
                          .keepalive = 30,
                          .will_topic = "w/\xff",
                          .will_payload = "x"};
    build_connect(&w, &o);
    expect_connect_dropped(t, &w);
}

/* MQTT-3.1.3-11 MQTT-1.5.3-2 */
ITEST(test_username_with_nul)
{
    static struct wbuf w;
    struct conn_opts o = {.client_id = "un", .clean = true, .keepalive = 30, .username = "ab"};
    build_connect(&w, &o);
    w.d[w.n - 1] = 0; /* "a\0" */
    expect_connect_dropped(t, &w);
}

/* Every optional field, in the spec's order, is read correctly: the will
 * fires with its topic and message. MQTT-3.1.3-1 MQTT-3.1.2-8 */
ITEST(test_connect_all_fields_in_order)
{
    int sub = it_client(t, "watch");
    subscribe(sub, "all/#", 1);
    struct conn_opts o = {.client_id = "full",
                          .clean = true,
                          .keepalive = 30,
                          .will_topic = "all/will",
                          .will_payload = "bye",
                          .will_qos = 1,
                          .username = "user",
                          .password = "pass"};
    int fd = it_connect(t, &o, NULL);
    it_forget_fd(t, fd);
    close(fd);
    expect_publish_ack(sub, "all/will", "bye", 1, false);
}

/* The older connection with the same client id is closed. MQTT-3.1.4-2 */
ITEST(test_takeover_closes_old_connection)
{
    int a = it_client(t, "twin");
    int b = it_client(t, "twin");
    expect_closed(a, IT_WAIT);
    subscribe(b, "twin/x", 1);
}

/* Takeover by a real client (mosquitto_sub) of a raw connection. MQTT-3.1.4-2 MQTT-7.0.0-2 */
ITEST(test_takeover_by_mosquitto_sub)
{
    int a = it_client(t, "twin2");
    const char *args[] = {"-i", "twin2", "-t", "tw/#", "-W", "5", NULL};
    it_mosquitto_sub(t, args);
    expect_closed(a, IT_WAIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT(test_connack_accepted_clean),
        IT(test_connack_is_first_packet),
        IT(test_unsupported_protocol_level),
        IT(test_unknown_protocol_name),
        IT(test_mqisdp_level3_accepted),
        IT(test_reserved_connect_flag),
        IT(test_empty_client_id_clean_session),
        IT(test_empty_client_id_persistent_rejected),
        IT(test_refused_connect_ignores_following_data),
        IT(test_anonymous_refused_when_disabled),
        IT(test_client_id_1_to_23_alphanumerics),
        IT(test_first_packet_not_connect),
        IT(test_second_connect_closes),
        IT(test_will_bits_without_will_flag),
        IT(test_will_qos_3),
        IT(test_will_flag_without_will_fields),
        IT(test_password_without_username),
        IT(test_flagged_field_missing),
        IT(test_field_without_flag),
        IT(test_client_id_missing),
        IT(test_client_id_bad_utf8),
        IT(test_will_topic_bad_utf8),
        IT(test_username_with_nul),
        IT(test_connect_all_fields_in_order),
        IT(test_takeover_closes_old_connection),
        IT(test_takeover_by_mosquitto_sub),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
