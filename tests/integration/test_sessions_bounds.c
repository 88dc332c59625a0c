/* Session-side bounds seen from clients: many subscriptions stay cheap,
 * limits.max_subscriptions_per_client and limits.max_topic_levels refuse
 * single filters with SUBACK 0x80, limits.session_expiry forgets persistent
 * sessions left alone too long, limits.max_sessions makes room by evicting
 * the oldest offline session and refuses (CONNACK 0x03) only when every
 * session is online. */
#include "tests/integration/harness.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

/* One SUBSCRIBE; assert the SUBACK carries exactly these return codes. */
static void subscribe_expect(int fd, uint16_t pid, int n, const char *const filters[],
                             const uint8_t qos[], const uint8_t codes[])
{
    send_subscribe(fd, pid, n, filters, qos);
    struct pkt p;
    expect_packet(fd, &p, 9);
    assert_int_equal(p.len, 2 + (size_t)n);
    assert_int_equal(p.body[0] << 8 | p.body[1], pid);
    assert_memory_equal(p.body + 2, codes, (size_t)n); /* MQTT-3.9.3-1: in order */
}

static void subscribe_one_expect(int fd, const char *filter, uint8_t qos, uint8_t code)
{
    subscribe_expect(fd, 0x4242, 1, (const char *const[]){filter}, &qos, &code);
}

enum { BULK_PACKETS = 20, BULK_PER_PACKET = 1000 };

static char bulk_names[BULK_PER_PACKET][24];
static const char *bulk_filters[BULK_PER_PACKET];
static uint8_t bulk_qos[BULK_PER_PACKET];

static void bulk_packet(int k)
{
    for (int i = 0; i < BULK_PER_PACKET; i++) {
        int n = k * BULK_PER_PACKET + i;
        snprintf(bulk_names[i], sizeof bulk_names[i], "bulk/%d/+", n);
        bulk_filters[i] = bulk_names[i];
        bulk_qos[i] = (uint8_t)(n % 3);
    }
}

/* 20,000 distinct filters in pipelined SUBSCRIBEs of 1,000: every SUBACK
 * arrives with every granted QoS (MQTT-3.8.4-5), the subscriptions route,
 * unsubscribing them all works (MQTT-3.10.4-1), and another client's QoS 1
 * round trip completes meanwhile. */
ITEST(test_twenty_thousand_filters_pipelined)
{
    struct broker_cfg cfg = {.extra_limits = "\"max_subscriptions_per_client\":20000"};
    it_restart(t, &cfg);
    int bulk = it_client(t, "bulk");
    int other = it_client(t, "other");
    for (int k = 0; k < BULK_PACKETS; k++) {
        bulk_packet(k);
        send_subscribe(bulk, (uint16_t)(k + 1), BULK_PER_PACKET, bulk_filters, bulk_qos);
    }
    publish(other, "elsewhere", "alive", 1, false); /* PUBACK within IT_WAIT */
    for (int k = 0; k < BULK_PACKETS; k++) {
        struct pkt p;
        expect_packet(bulk, &p, 9);
        assert_int_equal(p.len, 2 + BULK_PER_PACKET);
        assert_int_equal(p.body[0] << 8 | p.body[1], k + 1);
        for (int i = 0; i < BULK_PER_PACKET; i++)
            assert_int_equal(p.body[2 + i], (k * BULK_PER_PACKET + i) % 3);
    }
    publish(other, "bulk/19999/x", "last", 1, false);
    expect_publish(bulk, "bulk/19999/x", "last", 1, false); /* 19999 % 3 == 1 */
    send_ack(bulk, 0x40, 1);

    for (int k = 0; k < BULK_PACKETS; k++) {
        bulk_packet(k);
        send_unsubscribe(bulk, (uint16_t)(k + 100), BULK_PER_PACKET, bulk_filters);
    }
    publish(other, "elsewhere", "still alive", 1, false);
    for (int k = 0; k < BULK_PACKETS; k++)
        expect_ack(bulk, 0xb0, (uint16_t)(k + 100));
    publish(other, "bulk/19999/x", "gone", 1, false);
    publish(other, "bulk/5/x", "gone", 1, false);
    expect_silence(bulk, IT_QUIET);
}

/* limits.max_subscriptions_per_client 5: a sixth distinct filter gets 0x80,
 * replacing the QoS of a held one is granted, and after an UNSUBSCRIBE a new
 * one fits. Granted filters route; refused ones do not. */
ITEST(test_max_subscriptions_per_client)
{
    skip_on_mosquitto(t);
    struct broker_cfg cfg = {.extra_limits = "\"max_subscriptions_per_client\":5"};
    it_restart(t, &cfg);
    int fd = it_client(t, "many");
    subscribe_expect(fd, 1, 5, (const char *const[]){"m/1", "m/2", "m/3", "m/4", "m/5"},
                     (const uint8_t[]){0, 1, 1, 1, 1}, (const uint8_t[]){0, 1, 1, 1, 1});
    /* MQTT-3.8.4-4: each filter as if in its own SUBSCRIBE */
    subscribe_expect(fd, 2, 2, (const char *const[]){"m/6", "m/1"}, (const uint8_t[]){1, 2},
                     (const uint8_t[]){0x80, 2});
    unsubscribe(fd, "m/2");
    subscribe_expect(fd, 3, 2, (const char *const[]){"m/6", "m/7"}, (const uint8_t[]){1, 1},
                     (const uint8_t[]){1, 0x80});
    int pub = it_client(t, "manypub");
    publish(pub, "m/7", "refused", 1, false);
    publish(pub, "m/2", "unsubscribed", 1, false);
    publish(pub, "m/6", "six", 1, false);
    publish(pub, "m/1", "one", 1, false);
    expect_publish_ack(fd, "m/6", "six", 1, false);
    expect_publish_ack(fd, "m/1", "one", 1, false); /* QoS 2 granted, 1 published */
    expect_silence(fd, IT_QUIET);
    assert_true(broker_log_has_line(&t->broker, "max_subscriptions_per_client", "client=many"));
}

/* limits.max_topic_levels 4: a 5-level filter gets 0x80, 4-level ones are
 * granted and route. */
ITEST(test_max_topic_levels_in_filters)
{
    skip_on_mosquitto(t);
    struct broker_cfg cfg = {.extra_limits = "\"max_topic_levels\":4"};
    it_restart(t, &cfg);
    int fd = it_client(t, "deep");
    subscribe_expect(fd, 1, 3, (const char *const[]){"a/b/c/d/e", "a/b/c/d", "x/+/+/#"},
                     (const uint8_t[]){1, 1, 0}, (const uint8_t[]){0x80, 1, 0});
    subscribe_one_expect(fd, "a/b/c/d/#", 1, 0x80); /* '#' is a level too */
    int pub = it_client(t, "deeppub");
    publish(pub, "a/b/c/d", "four", 1, false);
    expect_publish_ack(fd, "a/b/c/d", "four", 1, false);
    assert_true(broker_log_has_line(&t->broker, "max_topic_levels", "client=deep"));
}

static bool wait_log(struct itest *t, const char *needle, int timeout_ms)
{
    for (long end = now_ms() + timeout_ms; now_ms() < end; sleep_ms(50))
        if (broker_log_contains(&t->broker, needle)) return true;
    return broker_log_contains(&t->broker, needle);
}

/* limits.session_expiry 1 s: a persistent session left alone for longer is
 * destroyed by the broker on its own (logged while nobody is connected);
 * the client then finds no session (MQTT-3.2.2-2, MQTT-3.2.2-3: session
 * present 0) and its old subscription is gone. */
ITEST(test_session_expires_when_left_alone)
{
    skip_on_mosquitto(t);
    struct broker_cfg cfg = {.extra_limits = "\"session_expiry\":1"};
    it_restart(t, &cfg);
    bool sp = true;
    int fd = it_session(t, "expiring", false, &sp);
    assert_false(sp);
    subscribe(fd, "exp/t", 1);
    it_leave(t, fd);
    sleep_ms(1000);
    assert_true(wait_log(t, "session expired: client=expiring", 1500 + IT_WAIT));
    fd = it_session(t, "expiring", false, &sp);
    assert_false(sp);
    int pub = it_client(t, "exppub");
    publish(pub, "exp/t", "nobody", 1, false);
    expect_silence(fd, IT_QUIET);
}

/* Within limits.session_expiry the session is kept: session present 1 and
 * the message queued meanwhile arrives (MQTT-3.2.2-2). */
ITEST(test_session_kept_within_expiry)
{
    skip_on_mosquitto(t);
    struct broker_cfg cfg = {.extra_limits = "\"session_expiry\":60"};
    it_restart(t, &cfg);
    int fd = it_session(t, "staying", false, NULL);
    subscribe(fd, "stay/t", 1);
    it_leave(t, fd);
    int pub = it_client(t, "staypub");
    publish(pub, "stay/t", "kept", 1, false);
    bool sp = false;
    fd = it_session(t, "staying", false, &sp);
    assert_true(sp);
    expect_publish_ack(fd, "stay/t", "kept", 1, false);
    assert_false(broker_log_contains(&t->broker, "session expired"));
}

/* A reload that turns expiry on (from 0, forever) applies to sessions that
 * were already offline: the broker forgets them without any new event. */
ITEST(test_reload_enables_session_expiry)
{
    skip_on_mosquitto(t);
    struct broker_cfg cfg = {.extra_limits = "\"session_expiry\":0"};
    it_restart(t, &cfg);
    int fd = it_session(t, "before-hup", false, NULL);
    subscribe(fd, "hup/t", 1);
    it_leave(t, fd);
    FILE *f = fopen(t->broker.conf_path, "w");
    assert_non_null(f);
    fputs("{\"limits\": {\"session_expiry\": 1}}\n", f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(kill(t->broker.pid, SIGHUP), 0);
    assert_true(wait_log(t, "configuration reloaded", IT_WAIT));
    assert_true(wait_log(t, "session expired: client=before-hup", 1000 + IT_WAIT));
    bool sp = true;
    it_session(t, "before-hup", false, &sp);
    assert_false(sp);
}

/* limits.max_sessions 3 with three offline persistent sessions: a fourth
 * client connects and the oldest offline session is evicted (its client
 * finds no session), newer ones keep theirs. */
ITEST(test_max_sessions_evicts_oldest_offline)
{
    skip_on_mosquitto(t);
    struct broker_cfg cfg = {.extra_limits = "\"max_sessions\":3"};
    it_restart(t, &cfg);
    const char *ids[] = {"old1", "old2", "old3"};
    for (int i = 0; i < 3; i++) {
        int fd = it_session(t, ids[i], false, NULL);
        subscribe(fd, "ev/t", 1);
        it_leave(t, fd);
    }
    bool sp = true;
    int fourth = it_session(t, "fourth", false, &sp);
    assert_false(sp);
    assert_true(broker_log_has_line(&t->broker, "session evicted", "client=old1"));
    int fd = it_session(t, "old3", false, &sp); /* no new session: nothing evicted */
    assert_true(sp);
    it_leave(t, fd);
    fd = it_session(t, "old1", false, &sp); /* evicted; its new session evicts old2 */
    assert_false(sp);
    it_leave(t, fd);
    fd = it_session(t, "old3", false, &sp);
    assert_true(sp);
    (void)fourth;
}

/* limits.max_sessions 3 with three clients online: a fourth is refused with
 * CONNACK 0x03 (server unavailable) and closed (MQTT-3.2.2-4/5); the others
 * are unaffected. */
ITEST(test_max_sessions_all_online_refuses)
{
    skip_on_mosquitto(t);
    struct broker_cfg cfg = {.extra_limits = "\"max_sessions\":3"};
    it_restart(t, &cfg);
    int a = it_session(t, "on1", false, NULL);
    int b = it_client(t, "on2");
    int c = it_session(t, "on3", false, NULL);
    subscribe(a, "on/t", 1);
    int fd = it_tcp(t);
    struct conn_opts o = {.client_id = "on4", .clean = true, .keepalive = 30};
    send_connect(fd, &o);
    uint8_t want[] = {0x20, 2, 0, 3};
    expect_bytes(fd, want, sizeof want, IT_WAIT);
    expect_closed(fd, IT_WAIT);
    publish(b, "on/t", "still", 1, false);
    expect_publish_ack(a, "on/t", "still", 1, false);
    assert_true(broker_log_has_line(&t->broker, "max_sessions", "refused"));
    (void)c;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT(test_twenty_thousand_filters_pipelined),  IT(test_max_subscriptions_per_client),
        IT(test_max_topic_levels_in_filters),        IT(test_session_expires_when_left_alone),
        IT(test_session_kept_within_expiry),         IT(test_reload_enables_session_expiry),
        IT(test_max_sessions_evicts_oldest_offline), IT(test_max_sessions_all_online_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
