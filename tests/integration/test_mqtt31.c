/* MQTT 3.1 ("MQIsdp", level 3) clients get 3.1's rules, byte-exact in the
 * style of Mosquitto's test/broker/: exact CONNECT bytes in, exact CONNACK
 * and ack bytes out. Each 3.1 relaxation is checked to stay off for 3.1.1. */
#include "tests/integration/harness.h"

#include <string.h>

static const uint8_t connack_ok[] = {0x20, 2, 0, 0};
static const uint8_t connack_present[] = {0x20, 2, 1, 0};
static const uint8_t connack_id_rejected[] = {0x20, 2, 0, 2};
static const uint8_t connack_not_authorized[] = {0x20, 2, 0, 5};
static const uint8_t pingreq[] = {0xc0, 0}, pingresp[] = {0xd0, 0};

#define MQISDP 0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 3

/* A 3.1 CONNECT with these flags and client id, keep alive 60. */
static void send_connect31(int fd, uint8_t flags, const char *id)
{
    static struct wbuf w;
    static const uint8_t head[] = {MQISDP};
    w.n = 0;
    wb_mem(&w, head, sizeof head);
    wb_u8(&w, flags);
    wb_u16(&w, 60);
    wb_str(&w, id);
    send_packet(fd, 0x10, &w);
}

/* A 3.1 client, connected with clean session 1 (flags 0x02). */
static int client31(struct itest *t, const char *id)
{
    int fd = it_tcp(t);
    send_connect31(fd, 0x02, id);
    expect_bytes(fd, connack_ok, sizeof connack_ok, IT_WAIT);
    return fd;
}

static void expect_alive(int fd)
{
    send_bytes(fd, pingreq, sizeof pingreq);
    expect_bytes(fd, pingresp, sizeof pingresp, IT_WAIT);
}

/* 3.1 requires a client id of 1 to 23 characters: an empty one is refused
 * with 0x02 whatever clean session says (3.1.1 would assign one for clean=1,
 * MQTT-3.1.3-6). */
ITEST(test_mqtt31_empty_id_clean_rejected)
{
    static const uint8_t connect[] = {0x10, 14, MQISDP, 0x02, 0, 60, 0, 0};
    int fd = it_tcp(t);
    send_bytes(fd, connect, sizeof connect);
    expect_bytes(fd, connack_id_rejected, sizeof connack_id_rejected, IT_WAIT);
    expect_closed(fd, IT_WAIT);
}

ITEST(test_mqtt31_empty_id_persistent_rejected)
{
    static const uint8_t connect[] = {0x10, 14, MQISDP, 0x00, 0, 60, 0, 0};
    int fd = it_tcp(t);
    send_bytes(fd, connect, sizeof connect);
    expect_bytes(fd, connack_id_rejected, sizeof connack_id_rejected, IT_WAIT);
    expect_closed(fd, IT_WAIT);
}

ITEST(test_mqtt31_connack_accepted)
{
    static const uint8_t connect[] = {0x10, 17, MQISDP, 0x02, 0, 60, 0, 3, 'p', '3', '1'};
    int fd = it_tcp(t);
    send_bytes(fd, connect, sizeof connect);
    expect_bytes(fd, connack_ok, sizeof connack_ok, IT_WAIT);
    expect_alive(fd);
}

/* Longer than 3.1's 23 characters: accepted, as Mosquitto does. */
ITEST(test_mqtt31_long_client_id_accepted)
{
    int fd = client31(t, "a-3.1-client-id-of-32-characters");
    expect_alive(fd);
}

/* Leave the persistent session of fd offline, holding a subscription to
 * `topic` and a QoS 1 message queued for it. */
static void leave_session(struct itest *t, int fd, const char *topic)
{
    subscribe(fd, topic, 1);
    send_disconnect(fd);
    expect_closed(fd, IT_WAIT);
    int pub = it_client(t, "feeder");
    publish(pub, topic, "queued", 1, false);
}

/* Session present exists only in 3.1.1: a resumed 3.1 session still gets
 * 20 02 00 00, where the same resumption over 3.1.1 gets 20 02 01 00. The
 * queued message proves the session was resumed. MQTT-3.2.2-2 (3.1.1 side) */
ITEST(test_mqtt31_resumed_session_connack_byte_zero)
{
    static const uint8_t connect[] = {0x10, 20,  MQISDP, 0x00, 0,   60,  0,
                                      6,    'k', 'e',    'e',  'p', '3', '1'};
    int fd = it_tcp(t);
    send_bytes(fd, connect, sizeof connect);
    expect_bytes(fd, connack_ok, sizeof connack_ok, IT_WAIT);
    leave_session(t, fd, "k31/t");
    fd = it_tcp(t);
    send_bytes(fd, connect, sizeof connect);
    expect_bytes(fd, connack_ok, sizeof connack_ok, IT_WAIT);
    expect_publish_ack(fd, "k31/t", "queued", 1, false);

    struct conn_opts o = {.client_id = "keep311", .clean = false, .keepalive = 60};
    fd = it_connect(t, &o, NULL);
    leave_session(t, fd, "k311/t");
    fd = it_tcp(t);
    send_connect(fd, &o);
    expect_bytes(fd, connack_present, sizeof connack_present, IT_WAIT);
    expect_publish_ack(fd, "k311/t", "queued", 1, false);
}

/* 3.1 sets DUP on a re-sent PUBREL: 6A gets its PUBCOMP like 62. */
ITEST(test_mqtt31_pubrel_dup)
{
    int fd = client31(t, "rel31");
    send_publish(fd, "q31", "x", 1, 2, false, false, 9);
    static const uint8_t pubrec[] = {0x50, 2, 0, 9};
    expect_bytes(fd, pubrec, sizeof pubrec, IT_WAIT);
    static const uint8_t pubrel_dup[] = {0x6a, 2, 0, 9}, pubcomp[] = {0x70, 2, 0, 9};
    send_bytes(fd, pubrel_dup, sizeof pubrel_dup);
    expect_bytes(fd, pubcomp, sizeof pubcomp, IT_WAIT);
    send_bytes(fd, pubrel_dup, sizeof pubrel_dup); /* re-sent once more */
    expect_bytes(fd, pubcomp, sizeof pubcomp, IT_WAIT);
    expect_alive(fd);
}

/* SUBSCRIBE 8A: SUBACK, and the subscription is real. */
ITEST(test_mqtt31_subscribe_dup)
{
    int fd = client31(t, "sub31");
    static const uint8_t sub[] = {0x8a, 8, 0, 10, 0, 3, 's', '3', '1', 1};
    static const uint8_t suback[] = {0x90, 3, 0, 10, 1};
    send_bytes(fd, sub, sizeof sub);
    expect_bytes(fd, suback, sizeof suback, IT_WAIT);
    int pub = it_client(t, "pub");
    publish(pub, "s31", "hello", 1, false);
    expect_publish_ack(fd, "s31", "hello", 1, false);
}

/* UNSUBSCRIBE AA: UNSUBACK, and the subscription is gone. */
ITEST(test_mqtt31_unsubscribe_dup)
{
    int fd = client31(t, "unsub31");
    subscribe(fd, "s31", 1);
    static const uint8_t unsub[] = {0xaa, 7, 0, 11, 0, 3, 's', '3', '1'};
    static const uint8_t unsuback[] = {0xb0, 2, 0, 11};
    send_bytes(fd, unsub, sizeof unsub);
    expect_bytes(fd, unsuback, sizeof unsuback, IT_WAIT);
    int pub = it_client(t, "pub");
    publish(pub, "s31", "hello", 1, false);
    expect_silence(fd, IT_QUIET);
}

/* The level is known from the CONNECT on: a DUP SUBSCRIBE in the same write
 * as the 3.1 CONNECT is accepted. */
ITEST(test_mqtt31_dup_pipelined_behind_connect)
{
    static const uint8_t both[] = {0x10, 17, MQISDP, 0x02, 0, 60, 0,   3,   'p', 'i', 'p',
                                   0x8a, 8,  0,      12,   0, 3,  'p', '/', 'q', 0};
    static const uint8_t suback[] = {0x90, 3, 0, 12, 0};
    int fd = it_tcp(t);
    send_bytes(fd, both, sizeof both);
    expect_bytes(fd, connack_ok, sizeof connack_ok, IT_WAIT);
    expect_bytes(fd, suback, sizeof suback, IT_WAIT);
}

/* The same DUP bytes from a 3.1.1 client are a protocol violation: the
 * connection is closed without a reply. MQTT-3.6.1-1 MQTT-3.8.1-1
 * MQTT-3.10.1-1 MQTT-4.8.0-1 */
ITEST(test_mqtt311_dup_flags_close)
{
    static const uint8_t pubrel_dup[] = {0x6a, 2, 0, 9};
    static const uint8_t sub_dup[] = {0x8a, 8, 0, 10, 0, 3, 's', '3', '1', 1};
    static const uint8_t unsub_dup[] = {0xaa, 7, 0, 11, 0, 3, 's', '3', '1'};
    const uint8_t *bad[] = {pubrel_dup, sub_dup, unsub_dup};
    const size_t len[] = {sizeof pubrel_dup, sizeof sub_dup, sizeof unsub_dup};
    for (int i = 0; i < 3; i++) {
        int fd = it_client(t, "strict311");
        send_bytes(fd, bad[i], len[i]);
        expect_closed(fd, IT_WAIT);
    }
    if (!testing_mosquitto()) assert_true(broker_log_has_line(&t->broker, "strict311", "protocol"));
}

/* 3.1 CONNECT, flags 0x42 (password, clean), id "pw31", password "secret",
 * no user name. */
static const uint8_t connect31_pw[] = {0x10, 26,  MQISDP, 0x42, 0,   60,  0,   4,   'p', 'w',
                                       '3',  '1', 0,      6,    's', 'e', 'c', 'r', 'e', 't'};

/* Tolerated as Mosquitto 2.0 does for 3.1: the client is anonymous. */
ITEST(test_mqtt31_password_without_username_anonymous)
{
    /* Mosquitto 1.x and some 2.0 releases read the password of a 3.1
     * CONNECT without a user name; 2.0.11, installed here, closes. */
    skip_on_mosquitto(t);
    int fd = it_tcp(t);
    send_bytes(fd, connect31_pw, sizeof connect31_pw);
    expect_bytes(fd, connack_ok, sizeof connack_ok, IT_WAIT);
    expect_alive(fd);
}

/* Anonymous, so refused with 0x05 when anonymous access is off; with no
 * password file the same client with a user name is refused too (nobody
 * gets in, as Mosquitto). (3.1.1: MQTT-3.1.2-22, test_connect.c
 * test_password_without_username.) */
ITEST(test_mqtt31_password_without_username_denied)
{
    skip_on_mosquitto(t); /* as above */
    struct broker_cfg cfg = {.deny_anonymous = true};
    it_restart(t, &cfg);
    int fd = it_tcp(t);
    send_bytes(fd, connect31_pw, sizeof connect31_pw);
    expect_bytes(fd, connack_not_authorized, sizeof connack_not_authorized, IT_WAIT);
    expect_closed(fd, IT_WAIT);

    /* flags 0xc2: user name "u" and password "secret" */
    static const uint8_t with_user[] = {0x10, 29,  MQISDP, 0xc2, 0,   60,  0,   4,
                                        'p',  'w', '3',    '1',  0,   1,   'u', 0,
                                        6,    's', 'e',    'c',  'r', 'e', 't'};
    fd = it_tcp(t);
    send_bytes(fd, with_user, sizeof with_user);
    expect_bytes(fd, connack_not_authorized, sizeof connack_not_authorized, IT_WAIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT(test_mqtt31_empty_id_clean_rejected),
        IT(test_mqtt31_empty_id_persistent_rejected),
        IT(test_mqtt31_connack_accepted),
        IT(test_mqtt31_long_client_id_accepted),
        IT(test_mqtt31_resumed_session_connack_byte_zero),
        IT(test_mqtt31_pubrel_dup),
        IT(test_mqtt31_subscribe_dup),
        IT(test_mqtt31_unsubscribe_dup),
        IT(test_mqtt31_dup_pipelined_behind_connect),
        IT(test_mqtt311_dup_flags_close),
        IT(test_mqtt31_password_without_username_anonymous),
        IT(test_mqtt31_password_without_username_denied),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
