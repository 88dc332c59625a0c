/* Slow subscribers: an online QoS 1/2 subscriber at its queue bound holds its
 * publishers back instead of losing acknowledged messages; one that stays
 * stuck, or passes the hard byte limit, is disconnected; QoS 0 to a client
 * that does not read is dropped past a byte limit, counted and logged once.
 * Starling-only knobs: every test skips on Mosquitto. */
#include "tests/integration/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define N_MSGS 100

/* Send QoS 1 PUBLISHes with ids 1..n without waiting for acks. */
static void publish_burst(int fd, const char *topic, int first, int n, size_t payload_len)
{
    static char payload[2048];
    for (int i = first; i < first + n; i++) {
        snprintf(payload, sizeof payload, "%06d", i);
        size_t len = payload_len > 6 ? payload_len : 6;
        memset(payload + 6, 'x', len - 6);
        send_publish(fd, topic, payload, len, 1, false, false, (uint16_t)i);
    }
}

/* PUBACKs read from fd until none arrives for quiet_ms (bounded by max). */
static int count_pubacks(int fd, int quiet_ms, int max)
{
    struct pkt p;
    int n = 0;
    while (n < max && read_packet(fd, &p, quiet_ms) == 0)
        if (p.type == 4) n++;
    return n;
}

/* The subscriber's next PUBLISH must be message `want` (payload starts with it). */
static void expect_seq_and_ack(int fd, int want)
{
    struct pkt p;
    struct msg m;
    assert_int_equal(read_packet(fd, &p, IT_WAIT), 0);
    assert_int_equal(p.type, 3);
    parse_publish(&p, &m);
    char seq[7];
    assert_true(m.payload_len >= 6);
    memcpy(seq, m.payload, 6);
    seq[6] = '\0';
    assert_int_equal(atoi(seq), want);
    send_ack(fd, 0x40, m.pid);
}

static int slow_subscriber(struct itest *t, const char *id, bool clean, int qos)
{
    struct conn_opts o = {.client_id = id, .clean = clean, .keepalive = 60};
    int fd = it_connect(t, &o, NULL);
    subscribe(fd, "bp/#", (uint8_t)qos);
    return fd;
}

/* A subscriber that stops acking fills its window (2) and queue (10); the
 * publisher then gets no more PUBACKs, instead of the broker dropping. When
 * the subscriber catches up, every message arrives, in order, and the
 * publisher's remaining PUBACKs follow. MQTT-4.6.0-6 */
ITEST(test_full_subscriber_holds_publisher_without_loss)
{
    skip_on_mosquitto(t);
    struct broker_cfg cfg = {.max_inflight = 2,
                             .max_queued_messages = 10,
                             .extra_limits = "\"slow_subscriber_timeout\":30"};
    it_restart(t, &cfg);
    int sub = slow_subscriber(t, "stuck", true, 1);
    int pub = it_client(t, "eager");
    publish_burst(pub, "bp/t", 1, N_MSGS, 16);
    int acked = count_pubacks(pub, IT_QUIET * 2, N_MSGS);
    assert_true(acked >= 12);    /* window + queue were filled */
    assert_true(acked < N_MSGS); /* and then the publisher was held back */
    for (int i = 1; i <= N_MSGS; i++)
        expect_seq_and_ack(sub, i);
    acked += count_pubacks(pub, IT_QUIET * 2, N_MSGS);
    assert_int_equal(acked, N_MSGS);
    expect_silence(sub, IT_QUIET);
}

/* A subscriber that stays at its bound for slow_subscriber_timeout is
 * disconnected (logged), and the publisher it held back goes on. */
ITEST(test_stuck_subscriber_disconnected_after_timeout)
{
    skip_on_mosquitto(t);
    struct broker_cfg cfg = {.max_inflight = 2,
                             .max_queued_messages = 10,
                             .extra_limits = "\"slow_subscriber_timeout\":1"};
    it_restart(t, &cfg);
    int sub = slow_subscriber(t, "stuck", true, 1);
    int pub = it_client(t, "eager");
    long start = now_ms();
    publish_burst(pub, "bp/t", 1, N_MSGS, 16);
    int acked = count_pubacks(pub, 3000, N_MSGS);
    assert_int_equal(acked, N_MSGS); /* released once the stuck one was dropped */
    long waited = now_ms() - start;
    assert_true(waited >= 900);
    /* The subscriber's socket holds what was sent before; then it ends. */
    struct pkt p;
    int rc, reads = 0;
    while ((rc = read_packet(sub, &p, IT_WAIT)) == 0 && reads++ < 64)
        continue;
    assert_int_equal(rc, -2);
    assert_true(broker_log_contains(&t->broker, "slow subscriber"));
}

/* After a slow persistent subscriber is dropped, its session queues offline
 * within max_queued_messages; the overflow is counted and logged, and what
 * was kept is delivered on reconnect. MQTT-3.1.2-5 */
ITEST(test_dropped_persistent_subscriber_keeps_bounded_queue)
{
    skip_on_mosquitto(t);
    struct broker_cfg cfg = {.max_inflight = 2,
                             .max_queued_messages = 10,
                             .extra_limits = "\"slow_subscriber_timeout\":1"};
    it_restart(t, &cfg);
    int sub = slow_subscriber(t, "slowp", false, 1);
    int pub = it_client(t, "eager");
    publish_burst(pub, "bp/t", 1, 12, 16); /* exactly window + queue */
    assert_int_equal(count_pubacks(pub, 3000, 12), 12);
    struct pkt p;
    int rc, reads = 0;
    while ((rc = read_packet(sub, &p, 4000)) == 0 && reads++ < 64)
        continue;
    assert_int_equal(rc, -2);               /* dropped as slow */
    publish_burst(pub, "bp/t", 13, 20, 16); /* offline now: beyond the bound is lost */
    assert_int_equal(count_pubacks(pub, IT_QUIET * 2, 20), 20);
    assert_true(broker_log_contains(&t->broker, "queue full, message dropped"));

    struct conn_opts o = {.client_id = "slowp", .clean = false, .keepalive = 60};
    bool present = false;
    int back = it_connect(t, &o, &present);
    assert_true(present);
    int got = 0;
    struct msg m;
    while (got < 40 && read_packet(back, &p, IT_QUIET * 2) == 0) {
        if (p.type != 3) continue;
        parse_publish(&p, &m);
        if (m.qos) send_ack(back, 0x40, m.pid);
        got++;
    }
    /* The 2 unacked in flight plus the queue (10 before the drop, topped up
     * to its bound offline); nothing beyond the bound. */
    assert_true(got >= 12);
    assert_true(got <= 2 + 10 + 10);
}

/* QoS 0 to a client that does not read is dropped once its unsent bytes
 * pass max_qos0_pending_bytes: the broker's memory stays bounded, the drop
 * is logged once for that client, and the publisher is never held back. */
ITEST(test_qos0_to_non_reader_dropped_and_logged_once)
{
    skip_on_mosquitto(t);
    struct broker_cfg cfg = {.extra_limits = "\"max_qos0_pending_bytes\":65536"};
    it_restart(t, &cfg);
    int sub = it_tcp(t);
    int small = 4096;
    setsockopt(sub, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct conn_opts o = {.client_id = "deaf", .clean = true, .keepalive = 60};
    send_connect(sub, &o);
    uint8_t connack[4];
    assert_int_equal(recv_exact(sub, connack, 4, IT_WAIT), 0);
    subscribe(sub, "bp/#", 0);
    int pub = it_client(t, "flood");
    static char payload[1000];
    memset(payload, 'z', sizeof payload);
    for (int i = 0; i < 10000; i++)
        send_publish(pub, "bp/q0", payload, sizeof payload, 0, false, false, 0);
    /* Not held back: a ping right after the 10 MB burst is answered. */
    uint8_t ping[2] = {0xC0, 0}, pong[2] = {0xD0, 0};
    send_bytes(pub, ping, 2);
    expect_bytes(pub, pong, 2, IT_WAIT);
    sleep_ms(IT_QUIET);
    assert_true(broker_log_contains(&t->broker, "dropping QoS 0 messages: client=deaf"));
    char log[65536];
    FILE *f = fopen(t->broker.log_path, "r");
    assert_non_null(f);
    size_t n = fread(log, 1, sizeof log - 1, f);
    fclose(f);
    log[n] = '\0';
    int lines = 0;
    for (const char *s = log; (s = strstr(s, "dropping QoS 0")); s++)
        lines++;
    assert_int_equal(lines, 1);
}

/* The retained messages a new QoS 0 subscription asks for all arrive, even
 * when they add up to far more than max_qos0_pending_bytes. MQTT-3.3.1-6 */
ITEST(test_retained_replay_not_cut_by_qos0_limit)
{
    skip_on_mosquitto(t);
    struct broker_cfg cfg = {.extra_limits = "\"max_qos0_pending_bytes\":65536"};
    it_restart(t, &cfg);
    int pub = it_client(t, "keeper");
    static char payload[1000];
    memset(payload, 'r', sizeof payload);
    char topic[32];
    for (int i = 0; i < 500; i++) { /* 500 kB of retained messages */
        snprintf(topic, sizeof topic, "keep/%d", i);
        send_publish(pub, topic, payload, sizeof payload, 1, true, false, (uint16_t)(i + 1));
    }
    assert_int_equal(count_pubacks(pub, IT_QUIET * 2, 500), 500);
    int sub = it_client(t, "newcomer");
    subscribe(sub, "keep/#", 0);
    struct pkt p;
    int got = 0;
    while (got < 500 && read_packet(sub, &p, IT_WAIT) == 0)
        if (p.type == 3 && (p.flags & 1)) got++;
    assert_int_equal(got, 500);
}

/* A new QoS 1 subscription replaying many retained messages is not a slow
 * subscriber: it may take longer than slow_subscriber_timeout to ack them
 * all and still gets every one, in one connection. */
ITEST(test_retained_replay_does_not_count_as_slow)
{
    skip_on_mosquitto(t);
    struct broker_cfg cfg = {.max_inflight = 2,
                             .max_queued_messages = 10,
                             .extra_limits = "\"slow_subscriber_timeout\":1"};
    it_restart(t, &cfg);
    int pub = it_client(t, "keeper");
    char topic[32];
    for (int i = 0; i < 300; i++) {
        snprintf(topic, sizeof topic, "keep/%d", i);
        send_publish(pub, topic, "v", 1, 1, true, false, (uint16_t)(i + 1));
    }
    assert_int_equal(count_pubacks(pub, IT_QUIET * 2, 300), 300);
    int sub = it_client(t, "replayed");
    subscribe(sub, "keep/#", 1);
    sleep_ms(1500); /* past the timeout before acking anything */
    struct pkt p;
    struct msg m;
    int got = 0;
    while (got < 300 && read_packet(sub, &p, IT_WAIT) == 0) {
        if (p.type != 3) continue;
        parse_publish(&p, &m);
        assert_true(m.retain);
        send_ack(sub, 0x40, m.pid);
        got++;
    }
    assert_int_equal(got, 300);
    assert_false(broker_log_contains(&t->broker, "slow subscriber"));
}

/* Past slow_subscriber_max_bytes of queued + unsent data an online
 * subscriber is disconnected at once, without waiting for the timeout. */
ITEST(test_subscriber_over_hard_byte_limit_disconnected)
{
    skip_on_mosquitto(t);
    struct broker_cfg cfg = {.max_inflight = 2,
                             .max_queued_messages = 100000,
                             .extra_limits = "\"slow_subscriber_timeout\":60,"
                                             "\"slow_subscriber_max_bytes\":100000,"
                                             "\"max_queued_bytes\":0"};
    it_restart(t, &cfg);
    int sub = slow_subscriber(t, "hoarder", true, 1);
    int pub = it_client(t, "eager");
    publish_burst(pub, "bp/t", 1, 300, 1000); /* 300 kB for a 100 kB limit */
    assert_int_equal(count_pubacks(pub, 3000, 300), 300);
    struct pkt p;
    int rc, reads = 0;
    while ((rc = read_packet(sub, &p, IT_WAIT)) == 0 && reads++ < 64)
        continue;
    assert_int_equal(rc, -2);
    assert_true(broker_log_contains(&t->broker, "slow_subscriber_max_bytes"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT(test_full_subscriber_holds_publisher_without_loss),
        IT(test_stuck_subscriber_disconnected_after_timeout),
        IT(test_dropped_persistent_subscriber_keeps_bounded_queue),
        IT(test_qos0_to_non_reader_dropped_and_logged_once),
        IT(test_retained_replay_not_cut_by_qos0_limit),
        IT(test_retained_replay_does_not_count_as_slow),
        IT(test_subscriber_over_hard_byte_limit_disconnected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
